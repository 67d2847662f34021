//! What the HTTP baseline examples share: a bare tiny_http server bound like runjsonrpc2's own
//! (socket2, SO_REUSEADDR, TCP_NODELAY, backlog 1024), with N worker threads and reused buffers.

// runjsonrpc2's own framing of its answers (one buffer, one write), for `baseline_whole`.
#[allow(dead_code)]
#[path = "../../src/server/wire.rs"]
mod wire;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use tiny_http::{Header, Response, StatusCode};

/// Serves `answer` on every request: `baseline_xxx [THREADS [PORT]]` (defaults 1 and 0, a free
/// port) on 127.0.0.1. Prints `listening on http://ADDR/` first, then serves until killed.
/// `answer` gets the whole body and appends the JSON answer to its second argument.
/// Answers go out through tiny_http's `Request::respond`.
#[allow(dead_code)]
pub fn serve(answer: fn(&[u8], &mut Vec<u8>)) {
    run(answer, false);
}

/// As [`serve`], but each answer is framed whole and written at once, as runjsonrpc2 frames its
/// answers (its `server/wire.rs`).
#[allow(dead_code)]
pub fn serve_whole(answer: fn(&[u8], &mut Vec<u8>)) {
    run(answer, true);
}

fn run(answer: fn(&[u8], &mut Vec<u8>), whole: bool) {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(1, |a| a.parse().expect("THREADS: a number"));
    let port: u16 = args.next().map_or(0, |a| a.parse().expect("PORT: a number"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let socket =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).expect("a TCP socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    // Inherited by accepted connections on Linux, as in runjsonrpc2's server.
    socket.set_tcp_nodelay(true).expect("TCP_NODELAY");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(1024).expect("listen");
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr().expect("a local address");
    let server = std::sync::Arc::new(tiny_http::Server::from_listener(listener, None).expect("a tiny_http server"));
    println!("listening on http://{addr}/");
    std::io::stdout().flush().expect("stdout");

    let json = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("a valid header");
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (server, json) = (server.clone(), json.clone());
            std::thread::spawn(move || {
                let (mut body, mut out, mut framed) = (Vec::new(), Vec::new(), wire::Wire::new());
                while let Ok(mut request) = server.recv() {
                    body.clear();
                    out.clear();
                    if request.as_reader().read_to_end(&mut body).is_err() {
                        continue;
                    }
                    answer(&body, &mut out);
                    if whole {
                        let minor = request.http_version().1;
                        let (head, rest) = framed.frame(minor, wire::Answer::Json(&out), wire::Then::KeepAlive);
                        let mut writer = request.into_writer();
                        let _ =
                            writer.write_all(head).and_then(|()| writer.write_all(rest)).and_then(|()| writer.flush());
                        continue;
                    }
                    let response = Response::new(StatusCode(200), vec![json.clone()], &out[..], Some(out.len()), None);
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}
