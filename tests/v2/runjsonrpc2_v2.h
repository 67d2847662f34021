/* runjsonrpc2_v2.h: a copy of the ABI version 2 header, kept so the tests build a version-2 plugin (tests/v2/cv2.c) and check that hosts still load it.
 *
 * A plugin is a shared library (libNAME.so) that exports one data symbol,
 * `runjsonrpc2_plugin`, of type `rj2_plugin`. The host reads `abi_version`
 * first and refuses the library when it is not RJ2_ABI_VERSION. Then it reads
 * the method table. Each method names the exported function that implements
 * it; the host resolves that symbol (dlsym) only on the method's first call,
 * and only symbols named in the table are ever resolved.
 *
 * Strings are UTF-8 byte strings given as pointer + length, never
 * NUL-terminated. A zero-length string may have a NULL pointer.
 *
 * Memory: the host allocates and frees everything it passes in; the plugin
 * writes its output through the host's `rj2_writer` callback, so the host
 * allocates (and frees) the output buffer too. Nothing allocated on one side
 * is freed on the other, and no allocator crosses the boundary.
 *
 * Threads: procedures are called from several host threads at once, so they
 * must be thread-safe. The table and every string it points to must stay
 * valid and unchanged while the library is loaded; the host never unloads a
 * plugin while it serves.
 *
 * Unwinding: catch exceptions in the procedure and answer them (RJ2_ERROR or
 * RJ2_INTERNAL). The host calls procedures as `extern "C-unwind"`, so an
 * exception that does escape is defined behaviour, not undefined: it ends the
 * worker process (abort, SIGABRT) and the master logs the method and starts a
 * new worker; the call in flight gets no answer. The Rust glue catches panics
 * and returns RJ2_INTERNAL.
 *
 * Visibility: the host finds `runjsonrpc2_plugin` and the procedures with
 * dlsym, so they must be exported. Mark each procedure RJ2_EXPORT; the header
 * already marks `runjsonrpc2_plugin`. Then -fvisibility=hidden (which keeps a
 * plugin's other symbols private) works.
 *
 * Lifetimes, argument by argument:
 * - the table (rj2_plugin, its methods, params and every string they point
 *   to): the plugin's, valid and unchanged for as long as the library is
 *   loaded, which is until the process ends (the host never unloads it);
 * - a procedure's `params` array, the strings it points to, and `extras`: the
 *   host's, valid only during the call; copy what you keep;
 * - `out` and the writer's callbacks: the host's, valid only during the call
 *   and only on the calling thread;
 * - bytes passed to `out->write`: read during the `write` call (the host
 *   copies them), so they may live on the procedure's stack.
 */
#ifndef RUNJSONRPC2_H
#define RUNJSONRPC2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RJ2_EXPORT marks a procedure the host looks up: exported also when the
 * plugin is built with -fvisibility=hidden, and with C linkage (an unmangled
 * name) when compiled as C++. Put it on the procedure's first declaration:
 *     RJ2_EXPORT int32_t my_add(const rj2_str *params, size_t params_len,
 *                               rj2_str extras, const rj2_writer *out); */
#if defined(_WIN32)
#define RJ2_VISIBLE __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define RJ2_VISIBLE __attribute__((visibility("default")))
#else
#define RJ2_VISIBLE
#endif
#ifdef __cplusplus
#define RJ2_EXPORT extern "C" RJ2_VISIBLE
#else
#define RJ2_EXPORT RJ2_VISIBLE
#endif

#define RJ2_ABI_VERSION 2u

/* A borrowed UTF-8 byte string. */
typedef struct rj2_str {
    const char *ptr;
    size_t len;
} rj2_str;

/* How a declared parameter binds (rj2_param.kind). */
#define RJ2_PARAM_REQUIRED 0u /* must be given by the client or by an extra variable */
#define RJ2_PARAM_OPTIONAL 1u /* may be absent: the host passes default_json, or null */
#define RJ2_PARAM_VARIADIC 2u /* takes all remaining positional values; last, at most one */

typedef struct rj2_param {
    rj2_str name;
    uint32_t kind;
    /* For optional parameters: the JSON text passed when the client gives
     * nothing. Length 0 means `null`. Ignored for other kinds. */
    rj2_str default_json;
} rj2_param;

/* Method flags (rj2_method.flags), bits to combine with |. */
#define RJ2_METHOD_BOUND 0u /* the host binds params to the declared parameters */
#define RJ2_METHOD_RAW 1u   /* the procedure receives `params` exactly as sent */
/* The procedure's RJ2_OK output is always exactly one JSON value in UTF-8, so
 * the host splices it into the answer without checking it. Without this bit
 * the host checks every result and answers an invalid one with -32603. Set it
 * only when the output comes from a JSON encoder you trust: a wrong promise
 * sends invalid JSON to the client. */
#define RJ2_METHOD_TRUSTED_OUTPUT 2u

typedef struct rj2_method {
    rj2_str name;   /* method name, unique within the plugin */
    rj2_str symbol; /* exported symbol of the implementing rj2_procedure */
    rj2_str doc;    /* one-line description, may be empty */
    const rj2_param *params;
    size_t params_len;
    uint32_t flags;
} rj2_method;

typedef struct rj2_plugin {
    uint32_t abi_version; /* RJ2_ABI_VERSION; read before anything else */
    rj2_str name;         /* module name, e.g. "hello" */
    rj2_str version;      /* the plugin's own version, e.g. "0.1.0" */
    const rj2_method *methods;
    size_t methods_len;
} rj2_plugin;

/* Output sink provided by the host for the duration of one call; both
 * callbacks are non-NULL. `write`
 * appends bytes; it may be called any number of times, so a result can be
 * written piece by piece as it is encoded. `reset` discards everything the
 * call has written so far: a procedure that fails half-way through writing
 * its result calls it before writing the error. Neither may be called from
 * two threads at once, nor after the procedure returns. */
typedef struct rj2_writer {
    void *ctx;
    void (*write)(void *ctx, const char *ptr, size_t len);
    void (*reset)(void *ctx);
} rj2_writer;

/* Procedure status codes. */
#define RJ2_OK 0             /* out received the result as JSON text */
#define RJ2_ERROR 1          /* out received {"kind":..., "message":..., "data":...} ("data" optional) */
#define RJ2_INVALID_PARAMS 2 /* out received a message naming the parameter (answered -32602) */
#define RJ2_INTERNAL 3       /* out received a message (answered -32603), e.g. a caught panic */

/* Every procedure symbol has this type.
 *
 * params, params_len: the call's parameter values, each one complete JSON
 *   value as text (already parsed and checked by the host, valid UTF-8).
 *   For RJ2_METHOD_BOUND methods: one value per declared non-variadic
 *   parameter, in declaration order (the client's positional or named values,
 *   extra variables bound by name, an absent optional parameter's
 *   default_json or `null`), followed by the values the variadic parameter
 *   takes, if it has one. The host has checked the count already: params_len
 *   is the number of non-variadic parameters plus the variadic values.
 *   For RJ2_METHOD_RAW methods: params_len is 1 and params[0] is the request's
 *   `params` as sent (an array or an object), or params_len is 0 when the
 *   request had none.
 *   The array may be NULL when params_len is 0.
 * extras: a JSON object holding the server's extra variables ({} if none).
 * out: where the result or error text goes; valid only during the call.
 * Returns one of the RJ2_* status codes; any other value is answered -32603.
 *
 * Why split values rather than one JSON array: the host has parsed the
 * request already, so handing over the value slices costs nothing, and a
 * procedure decodes each value on its own without parsing an array again. */
typedef int32_t (*rj2_procedure)(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

/* The one symbol every plugin exports (defined by the plugin, exported even
 * under -fvisibility=hidden: its visibility comes from this declaration). */
RJ2_VISIBLE extern const rj2_plugin runjsonrpc2_plugin;

#ifdef __cplusplus
}
#endif

#endif /* RUNJSONRPC2_H */
