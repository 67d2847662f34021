//! Unit tests of the auth file: parsing, patterns, and verification with its cache.

use super::*;
use argon2::password_hash::CustomizedPasswordHasher;

/// A hash with the smallest costs, so that tests run fast; the file format is the same.
fn cheap_hash(secret: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    argon2::Argon2::default()
        .hash_password_customized(secret.as_bytes(), b"saltsaltsalt", None, None, params)
        .unwrap()
        .to_string()
}

fn users(text: &str) -> Result<Users, String> {
    Users::parse(text, Path::new("auth.txt")).map_err(|e| e.to_string())
}

#[test]
fn malformed_files_name_the_line_and_reason() {
    let h = cheap_hash("s3cret");
    let cases = [
        ("alice".to_owned(), "auth.txt:1: expected NAME HASH PATTERN..., found one field"),
        (
            format!("# comment\n\nalice {h}"),
            "auth.txt:3: user \"alice\" has no method pattern (use * for every method)",
        ),
        (format!("alice {h} *\nalice {h} *"), "auth.txt:2: user \"alice\" given twice (first on line 1)"),
        (format!("al:ice {h} *"), "auth.txt:1: bad user name \"al:ice\""),
        (format!("alice {h} sa*mple"), "auth.txt:1: bad method pattern \"sa*mple\": '*' may only end a pattern"),
        ("alice plaintext *".to_owned(), "auth.txt:1: hash is not a PHC string"),
        (
            "alice $argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo *".to_owned(),
            "auth.txt:1: hash algorithm argon2i, supported argon2id",
        ),
        (
            "alice $argon2id$v=19$m=999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo *".to_owned(),
            "auth.txt:1: argon2id memory 999999 KiB, at most 262144",
        ),
        (
            "alice $argon2id$v=19$m=64,t=99,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo *".to_owned(),
            "auth.txt:1: argon2id passes 99 and lanes 1, at most 16 each",
        ),
    ];
    for (text, want) in cases {
        let got = users(&text).map(|u| u.len()).unwrap_err();
        assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
    }
}

#[test]
fn names_fit_basic_credentials_and_one_field() {
    let cases = [
        ("alice".to_owned(), true),
        ("a".to_owned(), true),
        (String::new(), false),
        ("a".repeat(MAX_NAME), true),
        ("a".repeat(MAX_NAME + 1), false),
        ("\u{e9}".repeat(MAX_NAME / 2), true), // 64 bytes: the bound is in bytes
        ("\u{e9}".repeat(MAX_NAME / 2 + 1), false),
        ("#alice".to_owned(), false),
        ("#".to_owned(), false),
        ("al#ice".to_owned(), true),
        ("alice#".to_owned(), true),
        ("al:ice".to_owned(), false),
        (":alice".to_owned(), false),
        ("alice:".to_owned(), false),
        ("al ice".to_owned(), false),
        ("al\tice".to_owned(), false),
        ("al\u{a0}ice".to_owned(), false), // a no-break space
        ("al\u{7}ice".to_owned(), false),  // a control character that is not a space
        ("al\u{7f}ice".to_owned(), false),
        ("\u{e5}lice".to_owned(), true),
    ];
    for (name, want) in cases {
        let got = check_name(&name);
        assert_eq!(got.is_ok(), want, "{name:?}: {got:?}");
        if let Err(e) = got {
            assert!(e.starts_with(&format!("bad user name {name:?}: 1 to 64 characters")), "{e}");
        }
    }
}

#[test]
fn hash_costs_are_bounded_and_salts_and_outputs_required() {
    // The salt "saltsalt" (8 bytes, the least a PHC string may hold), the output "hashhashhash".
    let (salt, output) = ("c2FsdHNhbHQ", "aGFzaGhhc2hoYXNo");
    let hash = |params: &str| format!("$argon2id$v=19${params}${salt}${output}");
    let salt_error = "argon2id hash without a salt of 8 bytes or more, or without its output";
    let cases = [
        (hash("m=64,t=1,p=1"), ""),
        (hash("m=262144,t=1,p=1"), ""),
        (hash("m=262145,t=1,p=1"), "argon2id memory 262145 KiB, at most 262144"),
        (hash("m=64,t=16,p=1"), ""),
        (hash("m=64,t=17,p=1"), "argon2id passes 17 and lanes 1, at most 16 each"),
        (hash("m=128,t=1,p=16"), ""),
        (hash("m=136,t=1,p=17"), "argon2id passes 1 and lanes 17, at most 16 each"),
        (hash("m=136,t=17,p=17"), "argon2id passes 17 and lanes 17, at most 16 each"),
        (hash("m=128,t=16,p=16"), ""),
        (hash("m=8,t=1,p=2"), "bad argon2id parameters"),
        (format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQx${output}"), ""), // a 9-byte salt
        (format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbH${output}"), "hash is not a PHC string"), // 7 bytes
        (format!("$argon2id$v=19$m=64,t=1,p=1${salt}"), salt_error),
        ("$argon2id$v=19$m=64,t=1,p=1".to_owned(), salt_error),
        (format!("$argon2i$v=19$m=64,t=1,p=1${salt}${output}"), "hash algorithm argon2i, supported argon2id"),
    ];
    for (text, want) in cases {
        let got = secret::check_hash(&text).map(drop);
        match got {
            Ok(()) => assert_eq!(want, "", "{text} passed"),
            Err(e) => assert!(!want.is_empty() && e.starts_with(want), "{text}\n got: {e}\nwant: {want}"),
        }
    }
}

#[test]
fn users_tell_their_count_and_file_and_debug_shows_no_hash() {
    let (a, b) = (cheap_hash("a"), cheap_hash("b"));
    let cases = [
        (String::new(), 0, r#"Users { file: "auth.txt", users: [] }"#),
        ("# only a comment\n".to_owned(), 0, r#"Users { file: "auth.txt", users: [] }"#),
        (format!("alice {a} *"), 1, r#"Users { file: "auth.txt", users: ["alice"] }"#),
        (format!("alice {a} *\nbob {b} x"), 2, r#"Users { file: "auth.txt", users: ["alice", "bob"] }"#),
    ];
    for (text, len, debug) in cases {
        let u = users(&text).unwrap();
        assert_eq!((u.len(), u.is_empty()), (len, len == 0), "{text:?}");
        assert_eq!(u.file(), Path::new("auth.txt"));
        assert_eq!(format!("{u:?}"), debug);
    }
}

#[test]
fn macs_compare_equal_only_when_every_byte_is() {
    let with = |changes: &[(usize, u8)]| {
        let mut mac = [0x5a; 16];
        changes.iter().for_each(|&(i, b)| mac[i] = b);
        mac
    };
    let cases = [
        (with(&[]), true),
        (with(&[(0, 0x5b)]), false),
        (with(&[(15, 0x00)]), false),
        (with(&[(0, 0x5b), (1, 0x5b)]), false), // the same difference twice: no xor of differences
        (with(&[(3, 0xa5)]), false),            // every bit differs: no and of bytes
        (with(&[(7, 0x1a)]), false),            // bits only cleared
        (with(&[(7, 0x7a)]), false),            // bits only set
    ];
    for (mac, want) in cases {
        assert_eq!(secret::constant_time_eq(&[0x5a; 16], &mac), want, "{mac:02x?}");
    }
    assert!(secret::constant_time_eq(&[0; 16], &[0; 16]));
    assert!(!secret::constant_time_eq(&[0; 16], &[0xff; 16]));
}

#[test]
fn patterns_allow_exact_names_prefixes_and_everything() {
    let h = cheap_hash("x");
    let file = format!("any {h} *\nsome {h} sample.* hello.greeting\nnone {h} nothing.here");
    let u = users(&file).unwrap();
    let cases = [
        ("any", "sample.add", true),
        ("any", "", true),
        ("some", "sample.add", true),
        ("some", "sample.", true),
        ("some", "sample", false),
        ("some", "hello.greeting", true),
        ("some", "hello.greetings", false),
        ("some", "hello.other", false),
        ("none", "sample.add", false),
        ("none", "nothing.here", true),
    ];
    for (name, method, want) in cases {
        let user = u.users.iter().find(|x| x.name == name).unwrap();
        assert_eq!(user.may_call(method), want, "{name} calling {method:?}");
    }
}

#[test]
fn patterns_given_to_auth_add_are_checked() {
    let cases: [(&[&str], bool); 6] = [
        (&[], true),
        (&["*"], true),
        (&["sample.*", "hello.greeting"], true),
        (&["sa*mple"], false),
        (&["*.add"], false),
        (&["sample.*", "**"], false),
    ];
    for (patterns, want) in cases {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        assert_eq!(check_patterns(&patterns).is_ok(), want, "{patterns:?}");
    }
}

#[test]
fn only_the_right_name_and_secret_pass() {
    let file = format!("alice {} *\nbob {} *", cheap_hash("a-secret"), cheap_hash("b-secret"));
    let u = users(&file).unwrap();
    let cases = [
        ("alice", "a-secret", Some("alice")),
        ("bob", "b-secret", Some("bob")),
        ("alice", "b-secret", None),
        ("alice", "a-secre", None),
        ("alice", "", None),
        ("carol", "a-secret", None),
        ("", "", None),
    ];
    // Twice: the second round answers from the cache, which must agree.
    for round in 0..2 {
        for (name, secret, want) in cases {
            let got = u.check(name, secret.as_bytes()).map(User::name);
            assert_eq!(got, want, "round {round}: {name}:{secret}");
        }
    }
}

#[test]
fn the_cache_holds_only_a_verified_credential() {
    let u = users(&format!("alice {} *", cheap_hash("right"))).unwrap();
    assert!(u.check("alice", b"wrong").is_none());
    assert_eq!(*u.verifier.cached.lock().unwrap(), vec![None]);
    assert!(u.check("alice", b"right").is_some());
    let cached = u.verifier.cached.lock().unwrap()[0];
    assert!(cached.is_some_and(|mac| mac != [0; 16]));
    // A wrong secret after a cached right one still fails, and leaves the cache alone.
    assert!(u.check("alice", b"wrong").is_none());
    assert_eq!(u.verifier.cached.lock().unwrap()[0], cached);
}

#[test]
fn argon2_runs_at_most_as_many_at_once_as_its_permits() {
    let file: String = (0..6).map(|i| format!("u{i} {} *\n", cheap_hash("right"))).collect();
    for cap in [1, 2, 3] {
        let mut u = users(&file).unwrap();
        *u.verifier.permits.lock().unwrap() = cap;
        u.verifier.probe.hold = std::time::Duration::from_millis(50);
        // Six at once, each verified once (right, then cached) and failed once (wrong).
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|s| {
            for i in 0..6 {
                let (u, start) = (&u, &start);
                s.spawn(move || {
                    let name = format!("u{i}");
                    start.wait();
                    assert!(u.check(&name, b"right").is_some());
                    assert!(u.check(&name, b"right").is_some());
                    assert!(u.check(&name, b"wrong").is_none());
                });
            }
        });
        let peak = u.verifier.probe.peak.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(peak, cap, "{cap} permits");
        assert_eq!(*u.verifier.permits.lock().unwrap(), cap, "all returned");
    }
}

#[test]
fn the_decoy_takes_the_costs_of_the_costliest_hash() {
    // Hashes are only parsed here, never run: the output "hashhashhash" is 12 bytes.
    let hash = |params: &str| format!("$argon2id$v=19${params}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
    let default = argon2::Params::default();
    let cases = [
        (vec![], (default.m_cost(), default.t_cost(), default.p_cost(), default.output_len())),
        (vec!["m=64,t=1,p=1"], (64, 1, 1, Some(12))),
        (vec!["m=8192,t=4,p=1", "m=64,t=1,p=1"], (8192, 4, 1, Some(12))),
        (vec!["m=64,t=1,p=1", "m=8192,t=4,p=1"], (8192, 4, 1, Some(12))),
        (vec!["m=8192,t=4,p=1", "m=16384,t=1,p=1"], (8192, 4, 1, Some(12))), // memory times passes
        (vec!["m=16384,t=1,p=1", "m=8192,t=4,p=1", "m=64,t=16,p=1"], (8192, 4, 1, Some(12))),
        (vec!["m=512,t=1,p=2", "m=256,t=2,p=1"], (512, 1, 2, Some(12))), // a tie: the most lanes
    ];
    for (params, want) in cases {
        let file: String = params.iter().enumerate().map(|(i, p)| format!("u{i} {} *\n", hash(p))).collect();
        let c = &users(&file).unwrap().verifier.decoy_costs;
        assert_eq!((c.m_cost(), c.t_cost(), c.p_cost(), c.output_len()), want, "{params:?}");
    }
}

#[test]
fn an_unknown_name_takes_as_long_as_a_wrong_secret_for_the_costliest_hash() {
    // 64 MiB and 3 passes: five times the defaults, which the decoy took before issue #26.
    let params = argon2::Params::new(64 * 1024, 3, 1, None).unwrap();
    let costly = argon2::Argon2::default()
        .hash_password_customized(b"right", b"saltsaltsalt", None, None, params)
        .unwrap()
        .to_string();
    let u = users(&format!("costly {costly} *\ncheap {} *", cheap_hash("right"))).unwrap();
    let time = |name: &str| {
        let start = std::time::Instant::now();
        assert!(u.check(name, b"wrong").is_none());
        start.elapsed()
    };
    time("nobody"); // the decoy is hashed at the first unknown name
    let (mut unknown, mut wrong): (Vec<_>, Vec<_>) = (0..5).map(|_| (time("nobody"), time("costly"))).unzip();
    unknown.sort();
    wrong.sort();
    // Medians, and a generous bound, so that a loaded machine cannot make it flake.
    assert!(unknown[2] * 2 >= wrong[2], "unknown name {:?}, wrong secret {:?}", unknown[2], wrong[2]);
}

#[test]
fn hashed_secrets_verify_and_random_secrets_differ() {
    let secret = random_secret().unwrap();
    assert_eq!(secret.len(), 43);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{secret}");
    assert_ne!(secret, random_secret().unwrap());
    let bytes = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(&secret).unwrap();
    assert_eq!(bytes.len(), 32, "{secret}");
    let hash = hash_secret(secret.as_bytes()).unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    let u = users(&format!("alice {hash} *")).unwrap();
    assert!(u.check("alice", secret.as_bytes()).is_some());
    assert!(u.check("alice", b"other").is_none());
}
