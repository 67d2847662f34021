/* cgreet.c: a runjsonrpc2 plugin written in plain C (module "cgreet"), also used by the host's fault tests.
 *
 * Methods: greet(name, punctuation = "!") -> "Hello, <name><punctuation>"
 *          add(a, b) on 64-bit signed integers (overflow is an "Overflow" error).
 *
 * Build:   cc -shared -fPIC -I plugin-api/include sample-plugins/c/cgreet.c -o libcgreet.so
 *
 * Fault-test switches (each makes a deliberately broken plugin):
 *   -DRJ2_TEST_BAD_ABI    abi_version is one more than RJ2_ABI_VERSION
 *   -DRJ2_TEST_DUP        a second method named "greet"
 *   -DRJ2_TEST_NULL       a method name with a NULL pointer and length 4
 *   -DRJ2_TEST_BADJSON    methods bad_json (OK with invalid JSON) and bad_utf8 (OK with a string holding byte 0xff),
 *                         half (writes half a result, resets the writer, answers an error), and
 *                         bad_json_trusted (bad_json, wrongly flagged RJ2_METHOD_TRUSTED_OUTPUT)
 *   -DRJ2_TEST_MISSING    a method "missing" whose symbol is not exported
 *   -DRJ2_TEST_BAD_STATUS a method "bad_status" that returns status 42
 *   -DRJ2_TEST_HUGE       a method claiming 2^40 parameters
 *   -DRJ2_TEST_COLON      a method named "a:b", which would not survive a module:method target
 *   -DRJ2_TEST_FLAGS      a method with a flag bit this ABI does not define
 *   -DRJ2_TEST_FAULTS     methods crash (writes through a null pointer) and hang (never returns)
 *   -DRJ2_TEST_HOWDY      greet says "Howdy, " (a rebuilt plugin, for the reload test)
 *   -DRJ2_TEST_THROW      (C++ only) a method "throw" whose C++ exception escapes the procedure
 *   -DRJ2_TEST_SMALL      a method_size smaller than version 3.0's
 *   -DRJ2_TEST_HINT       a method with an unknown hint flag bit (16), which a host ignores
 *   -DRJ2_TEST_FUTURE     the table as a later 3.x plugin would write it (a later minor, larger
 *                         method and parameter structs, a hint bit), which this host loads
 *
 * The tests build it with -fvisibility=hidden -Wall -Wextra -Werror, as C11 and as C++17:
 * RJ2_EXPORT keeps the procedures visible to the host.
 */
#include "runjsonrpc2.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#ifdef RJ2_TEST_FAULTS
#include <unistd.h>
#endif
#ifdef RJ2_TEST_THROW
#ifndef __cplusplus
#error "RJ2_TEST_THROW needs C++"
#endif
#include <stdexcept>
#endif

#define S(lit) { lit, sizeof(lit) - 1 }

RJ2_EXPORT int32_t cgreet_greet(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);
RJ2_EXPORT int32_t cgreet_add(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

static void put(const rj2_writer *out, const char *s, size_t len) {
    out->write(out->ctx, s, len);
}

static int32_t answer(const rj2_writer *out, int32_t status, const char *text) {
    put(out, text, strlen(text));
    return status;
}

/* A cursor over one parameter value's JSON text. Only the shapes these
 * methods accept are parsed: a string or null (greet), an integer (add). */
typedef struct cursor {
    const char *p, *end;
} cursor;

static cursor open_value(rj2_str value) {
    static const char empty[1] = "";
    cursor c = { empty, empty };
    if (value.len > 0) {
        c.p = value.ptr;
        c.end = value.ptr + value.len;
    }
    return c;
}

/* Scans a whole value with `scan`; true when it matched and nothing follows. */
#define SCAN_WHOLE(value, scan, out) (c = open_value(value), scan(&c, out) && at_end(&c))

static size_t left(const cursor *c) {
    return (size_t)(c->end - c->p);
}

static void skip_ws(cursor *c) {
    while (left(c) > 0 && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, const char *token) {
    size_t n = strlen(token);
    skip_ws(c);
    if (left(c) < n || memcmp(c->p, token, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static int is_hex(char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Scans one JSON string, checking its escapes; `body` gets the text between
 * the quotes, still escaped, so it can be copied into another JSON string. */
static int scan_string(cursor *c, rj2_str *body) {
    const char *start;
    if (!eat(c, "\""))
        return 0;
    start = c->p;
    while (left(c) > 0) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            body->ptr = start;
            body->len = (size_t)(c->p - start);
            c->p++;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            if (left(c) < 2)
                return 0;
            c->p++;
            if (*c->p == 'u') {
                int i;
                if (left(c) < 5)
                    return 0;
                for (i = 1; i <= 4; i++)
                    if (!is_hex(c->p[i]))
                        return 0;
                c->p += 4;
            } else if (memchr("\"\\/bfnrt", *c->p, 8) == NULL) {
                return 0;
            }
        }
        c->p++;
    }
    return 0;
}

/* Scans one JSON integer that fits a long long (no fraction, no exponent). */
static int scan_int(cursor *c, long long *value) {
    unsigned long long magnitude = 0, limit = LLONG_MAX;
    int negative;
    skip_ws(c);
    negative = left(c) > 0 && *c->p == '-';
    if (negative) {
        c->p++;
        limit = (unsigned long long)LLONG_MAX + 1u;
    }
    if (left(c) == 0 || *c->p < '0' || *c->p > '9')
        return 0;
    if (*c->p == '0' && left(c) > 1 && c->p[1] >= '0' && c->p[1] <= '9')
        return 0; /* JSON forbids leading zeros */
    while (left(c) > 0 && *c->p >= '0' && *c->p <= '9') {
        unsigned digit = (unsigned)(*c->p - '0');
        if (magnitude > (limit - digit) / 10)
            return 0;
        magnitude = magnitude * 10 + digit;
        c->p++;
    }
    if (left(c) > 0 && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
        return 0;
    if (!negative)
        *value = (long long)magnitude;
    else if (magnitude == (unsigned long long)LLONG_MAX + 1u)
        *value = LLONG_MIN;
    else
        *value = -(long long)magnitude;
    return 1;
}

/* True when only whitespace is left. */
static int at_end(cursor *c) {
    skip_ws(c);
    return left(c) == 0;
}

/* The host binds params to the table's parameters: greet always gets two
 * values (punctuation is its default "!" when the client gave none), add two. */
int32_t cgreet_greet(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    cursor c;
    rj2_str name, punctuation;
    (void)extras;
    if (params_len != 2)
        return answer(out, RJ2_INVALID_PARAMS, "greet takes (name, punctuation = \"!\")");
    if (!SCAN_WHOLE(params[0], scan_string, &name))
        return answer(out, RJ2_INVALID_PARAMS, "parameter \"name\" must be a string");
    if (!SCAN_WHOLE(params[1], scan_string, &punctuation)) {
        c = open_value(params[1]);
        if (!eat(&c, "null") || !at_end(&c))
            return answer(out, RJ2_INVALID_PARAMS, "parameter \"punctuation\" must be a string");
        punctuation.ptr = "!";
        punctuation.len = 1;
    }
#ifdef RJ2_TEST_HOWDY
    put(out, "\"Howdy, ", 8);
#else
    put(out, "\"Hello, ", 8);
#endif
    put(out, name.ptr, name.len);
    put(out, punctuation.ptr, punctuation.len);
    put(out, "\"", 1);
    return RJ2_OK;
}

int32_t cgreet_add(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    cursor c;
    long long a, b;
    char text[128];
    (void)extras;
    if (params_len != 2)
        return answer(out, RJ2_INVALID_PARAMS, "add takes (a, b)");
    if (!SCAN_WHOLE(params[0], scan_int, &a))
        return answer(out, RJ2_INVALID_PARAMS, "parameter \"a\" must be a 64-bit integer");
    if (!SCAN_WHOLE(params[1], scan_int, &b))
        return answer(out, RJ2_INVALID_PARAMS, "parameter \"b\" must be a 64-bit integer");
    if ((b > 0 && a > LLONG_MAX - b) || (b < 0 && a < LLONG_MIN - b)) {
        /* An application error through the writer: the host builds the error object. */
        rj2_str kind = S("Overflow"), message, data = S("{\"limit\":\"64-bit\"}");
        message.len = (size_t)snprintf(text, sizeof text, "%lld + %lld overflows", a, b);
        message.ptr = text;
        out->error(out->ctx, kind, message, data);
        return RJ2_ERROR;
    }
    snprintf(text, sizeof text, "%lld", a + b);
    return answer(out, RJ2_OK, text);
}

#ifdef RJ2_TEST_BADJSON
RJ2_EXPORT int32_t cgreet_bad_json(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);
RJ2_EXPORT int32_t cgreet_bad_utf8(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);
RJ2_EXPORT int32_t cgreet_half(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

int32_t cgreet_bad_json(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    return answer(out, RJ2_OK, "{not json");
}

int32_t cgreet_bad_utf8(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    return answer(out, RJ2_OK, "\"bad \xff byte\"");
}

int32_t cgreet_half(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    put(out, "[1, {\"unfinished", 16);
    out->reset(out->ctx);
    return answer(out, RJ2_ERROR, "{\"kind\":\"Half\",\"message\":\"the writer was reset\"}");
}
#endif

#ifdef RJ2_TEST_BAD_STATUS
RJ2_EXPORT int32_t cgreet_bad_status(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

int32_t cgreet_bad_status(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    return answer(out, 42, "42 is no status");
}
#endif

#ifdef RJ2_TEST_FAULTS
RJ2_EXPORT int32_t cgreet_crash(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);
RJ2_EXPORT int32_t cgreet_hang(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

/* Null, though the compiler cannot know it (a store it could see through would be dropped). */
int *volatile cgreet_nowhere;

int32_t cgreet_crash(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    *(volatile int *)cgreet_nowhere = 1;
    return answer(out, RJ2_OK, "null");
}

int32_t cgreet_hang(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params;
    (void)params_len;
    (void)extras;
    (void)out;
    for (;;)
        pause();
}
#endif

#ifdef RJ2_TEST_THROW
RJ2_EXPORT int32_t cgreet_throw(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

/* Throws, which a procedure must not do: the host's handling of it is what is tested. */
int32_t cgreet_throw(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)params, (void)params_len, (void)extras, (void)out;
    throw std::runtime_error("thrown out of a procedure");
}
#endif

static const rj2_param greet_params[] = {
    { S("name"), RJ2_PARAM_REQUIRED, RJ2_NONE, S("{\"type\":\"string\"}") },
    { S("punctuation"), RJ2_PARAM_OPTIONAL, S("\"!\""), S("{\"type\":\"string\",\"maxLength\":8}") },
};

#define INT64 "{\"type\":\"integer\",\"minimum\":-9223372036854775808,\"maximum\":9223372036854775807}"
static const rj2_param add_params[] = {
    { S("a"), RJ2_PARAM_REQUIRED, RJ2_NONE, S(INT64) },
    { S("b"), RJ2_PARAM_REQUIRED, RJ2_NONE, S(INT64) },
};

#ifdef RJ2_TEST_FUTURE
#define UNUSED_IN_FUTURE __attribute__((unused)) /* the future table below replaces it */
#else
#define UNUSED_IN_FUTURE
#endif
UNUSED_IN_FUTURE static const rj2_method methods[] = {
    { S("greet"), S("cgreet_greet"), S("Greets name, ending with punctuation."), greet_params, 2, RJ2_METHOD_BOUND, S("{\"type\":\"string\"}"), RJ2_NONE },
    /* "%lld" is always one JSON value, so the host need not check it. */
    { S("add"), S("cgreet_add"), S("Adds two integers."), add_params, 2, RJ2_METHOD_BOUND | RJ2_METHOD_TRUSTED_OUTPUT, S(INT64), S("[\"Overflow\"]") },
#ifdef RJ2_TEST_DUP
    { S("greet"), S("cgreet_add"), S("A second method named greet."), add_params, 2, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_NULL
    { { NULL, 4 }, S("cgreet_add"), S("A method whose name is NULL with length 4."), add_params, 2, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_BADJSON
    { S("bad_json"), S("cgreet_bad_json"), S("Answers OK with invalid JSON."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
    { S("bad_utf8"), S("cgreet_bad_utf8"), S("Answers OK with a string holding byte 0xff."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
    { S("half"), S("cgreet_half"), S("Writes half a result, resets, answers an error."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
    { S("bad_json_trusted"), S("cgreet_bad_json"), S("Invalid JSON, wrongly promised valid."), NULL, 0, RJ2_METHOD_TRUSTED_OUTPUT, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_FAULTS
    { S("crash"), S("cgreet_crash"), S("Writes through a null pointer."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
    { S("hang"), S("cgreet_hang"), S("Never returns."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_THROW
    { S("throw"), S("cgreet_throw"), S("Throws a C++ exception out of the procedure."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_HINT
    { S("hinted"), S("cgreet_add"), S("A hint bit this ABI does not define."), add_params, 2, RJ2_METHOD_BOUND | (1u << 16), RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_FLAGS
    { S("flagged"), S("cgreet_add"), S("A flag this ABI does not define."), add_params, 2, 4u, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_MISSING
    { S("missing"), S("cgreet_missing"), S("Names a symbol the library does not export."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_BAD_STATUS
    { S("bad_status"), S("cgreet_bad_status"), S("Returns status 42."), NULL, 0, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_HUGE
    { S("huge"), S("cgreet_add"), S("Claims 2^40 parameters."), add_params, (size_t)1 << 40, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
#ifdef RJ2_TEST_COLON
    { S("a:b"), S("cgreet_add"), S("A name with a colon."), add_params, 2, RJ2_METHOD_BOUND, RJ2_NONE, RJ2_NONE },
#endif
};

#ifdef RJ2_TEST_FUTURE
/* As a plugin built for a later 3.x would be: a later minor, a field appended to each
 * method and parameter (so larger strides), and a hint flag bit this host does not know. */
typedef struct future_param {
    rj2_param base;
    rj2_str later;
} future_param;
typedef struct future_method {
    rj2_method base;
    rj2_str later;
    uint64_t more;
} future_method;
static const future_param future_params[] = {
    { { S("a"), RJ2_PARAM_REQUIRED, RJ2_NONE, S(INT64) }, S("a later field") },
    { { S("b"), RJ2_PARAM_REQUIRED, RJ2_NONE, S(INT64) }, S("a later field") },
};
static const future_method future_methods[] = {
    { { S("add"), S("cgreet_add"), S("Adds two integers."), &future_params[0].base, 2, RJ2_METHOD_BOUND | (1u << 17),
        S(INT64), S("[\"Overflow\"]") }, S("a later field"), 42 },
    { { S("greet"), S("cgreet_greet"), S("Greets name."), NULL, 0, RJ2_METHOD_RAW, RJ2_NONE, RJ2_NONE }, RJ2_NONE, 0 },
};
const rj2_plugin runjsonrpc2_plugin = {
    RJ2_ABI_VERSION, RJ2_ABI_MINOR + 1u, sizeof(rj2_plugin), sizeof(future_method), sizeof(future_param),
    S("cgreet"), S("0.1.0"), &future_methods[0].base, 2,
};
#else
const rj2_plugin runjsonrpc2_plugin = {
#if defined(RJ2_TEST_BAD_ABI)
    RJ2_ABI_VERSION + 1u, RJ2_ABI_MINOR, sizeof(rj2_plugin), sizeof(rj2_method), sizeof(rj2_param),
#elif defined(RJ2_TEST_SMALL)
    RJ2_ABI_VERSION, RJ2_ABI_MINOR, sizeof(rj2_plugin), sizeof(rj2_method) - 8, sizeof(rj2_param),
#else
    RJ2_PLUGIN_HEAD,
#endif
    S("cgreet"),
    S("0.1.0"),
    methods,
    sizeof methods / sizeof methods[0],
};
#endif
