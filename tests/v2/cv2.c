/* cv2.c: a plugin built against the ABI version 2 header (runjsonrpc2_v2.h), which hosts of
 * version 3 still load. Methods: hello(name) -> "Hello from v2, <name>", and fail() -> an
 * error written as JSON text, the version-2 way. */
#include "runjsonrpc2_v2.h"

#include <string.h>

#define S(lit) { lit, sizeof(lit) - 1 }

RJ2_EXPORT int32_t cv2_hello(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);
RJ2_EXPORT int32_t cv2_fail(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out);

/* The name arrives as a JSON string: its text, quotes included, is spliced into the greeting. */
int32_t cv2_hello(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    (void)extras;
    if (params_len != 1 || params[0].len < 2 || params[0].ptr[0] != '"') {
        const char *message = "hello takes one string";
        out->write(out->ctx, message, strlen(message));
        return RJ2_INVALID_PARAMS;
    }
    out->write(out->ctx, "\"Hello from v2, ", 16);
    out->write(out->ctx, params[0].ptr + 1, params[0].len - 1);
    return RJ2_OK;
}

int32_t cv2_fail(const rj2_str *params, size_t params_len, rj2_str extras, const rj2_writer *out) {
    static const char error[] = "{\"kind\":\"Old\",\"message\":\"failed the v2 way\"}";
    (void)params, (void)params_len, (void)extras;
    out->write(out->ctx, error, sizeof error - 1);
    return RJ2_ERROR;
}

static const rj2_param hello_params[] = {
    { S("name"), RJ2_PARAM_REQUIRED, { NULL, 0 } },
};

static const rj2_method methods[] = {
    { S("hello"), S("cv2_hello"), S("Greets name, from a version-2 plugin."), hello_params, 1, RJ2_METHOD_BOUND },
    { S("fail"), S("cv2_fail"), S("Fails with a JSON error object."), NULL, 0, RJ2_METHOD_BOUND },
};

const rj2_plugin runjsonrpc2_plugin = { RJ2_ABI_VERSION, S("cv2"), S("2.0.0"), methods, 2 };
