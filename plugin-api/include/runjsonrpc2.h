/* runjsonrpc2.h: the plain C ABI between runjsonrpc2 and its procedure plugins (ABI version 3.0).
 *
 * A plugin is a shared library (libNAME.so) that exports one data symbol,
 * `runjsonrpc2_plugin`, of type `rj2_plugin`. The host reads `abi_version`
 * first: it loads version 3 (this header) and version 2 (the previous one)
 * plugins, and refuses any other with a message naming both. Then it reads
 * the method table.
 *
 * How version 3 evolves (the compatibility rule):
 * - Additions within version 3 raise RJ2_ABI_MINOR and only ever append
 *   fields at the end of a struct. A plugin tells the sizes of its structs
 *   (plugin_size, method_size, param_size); a host reads each struct up to
 *   the smaller of its own size and the plugin's, so fields a newer plugin
 *   adds are ignored by an older host, and fields an older plugin lacks read
 *   as empty (zero) in a newer host. The methods and params arrays are read
 *   with the plugin's sizes as their strides. A size smaller than version
 *   3.0's is refused.
 * - Method flags: bits 0-15 (RJ2_FLAGS_REQUIRED) change what a call means, so
 *   a host refuses a method with such a bit it does not know; bits 16-31 are
 *   hints, and a host ignores those it does not know.
 * - The writer the host passes tells its own size (rj2_writer.size): use a
 *   field added after version 3.0 only when RJ2_WRITER_HAS says it is there. Each method names the exported function that implements
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

#define RJ2_ABI_VERSION 3u
#define RJ2_ABI_MINOR 0u
/* Flag bits a host must know (see the compatibility rule above). */
#define RJ2_FLAGS_REQUIRED 0x0000ffffu

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
    /* Since 3.0: a JSON Schema (an object or a boolean, as JSON text) for the
     * value, shown by rpc.discover; for a variadic parameter, for each value.
     * Length 0 means any value. */
    rj2_str schema_json;
} rj2_param;

/* An empty string, for schemas left out. */
#define RJ2_NONE { NULL, 0 }

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
    const rj2_param *params; /* params_len entries, param_size bytes apart */
    size_t params_len;
    uint32_t flags;
    rj2_str result_schema_json; /* since 3.0: a JSON Schema for the result; empty: any */
    /* Since 3.0: the application error kinds it may report (RJ2_ERROR), as a JSON
     * array of strings, e.g. ["Overflow"]; rpc.discover lists them with their
     * codes. Empty: not known. */
    rj2_str error_kinds_json;
} rj2_method;

typedef struct rj2_plugin {
    uint32_t abi_version; /* RJ2_ABI_VERSION; read before anything else */
    uint32_t abi_minor;   /* RJ2_ABI_MINOR, as the plugin was built */
    uint32_t plugin_size; /* sizeof(rj2_plugin) */
    uint32_t method_size; /* sizeof(rj2_method): the stride of `methods` */
    uint32_t param_size;  /* sizeof(rj2_param): the stride of every `params` */
    rj2_str name;         /* module name, e.g. "hello" */
    rj2_str version;      /* the plugin's own version, e.g. "0.1.0" */
    const rj2_method *methods; /* methods_len entries, method_size bytes apart */
    size_t methods_len;
} rj2_plugin;

/* The first five fields of a plugin built with this header:
 *     const rj2_plugin runjsonrpc2_plugin = { RJ2_PLUGIN_HEAD, S("name"), ... }; */
#define RJ2_PLUGIN_HEAD \
    RJ2_ABI_VERSION, RJ2_ABI_MINOR, (uint32_t)sizeof(rj2_plugin), (uint32_t)sizeof(rj2_method), (uint32_t)sizeof(rj2_param)

/* Output sink provided by the host for the duration of one call; every
 * callback is non-NULL. `write`
 * appends bytes; it may be called any number of times, so a result can be
 * written piece by piece as it is encoded. `reset` discards everything the
 * call has written so far: a procedure that fails half-way through writing
 * its result calls it before writing the error. `error` (since 3.0) reports
 * an application error without writing JSON by hand: it discards what was
 * written and keeps `kind`, `message` (UTF-8) and `data_json` (one JSON value,
 * or empty for none); the procedure then returns RJ2_ERROR. None may be
 * called from two threads at once, nor after the procedure returns. */
typedef struct rj2_writer {
    void *ctx;
    void (*write)(void *ctx, const char *ptr, size_t len);
    void (*reset)(void *ctx);
    size_t size; /* since 3.0: sizeof(rj2_writer) as the host knows it */
    void (*error)(void *ctx, rj2_str kind, rj2_str message, rj2_str data_json); /* since 3.0 */
} rj2_writer;

/* Whether the host's writer has `field` (one added after version 3.0). */
#define RJ2_WRITER_HAS(out, field) ((out)->size >= offsetof(rj2_writer, field) + sizeof((out)->field))

/* Procedure status codes. */
#define RJ2_OK 0             /* out received the result as JSON text */
#define RJ2_ERROR 1          /* out->error was called, or out received {"kind":..., "message":..., "data":...} ("data" optional) */
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
