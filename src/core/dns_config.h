/* dns_config: a resolver made from the [dns] section of moatd.conf, so
 * the workers, the queue runner and moatctl's diagnostics all resolve
 * through the same servers with the same timeout. */
#ifndef MOAT_DNS_CONFIG_H
#define MOAT_DNS_CONFIG_H

#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "dns.h"

/* dns_new() with cfg's resolvers and timeout. NULL with a message. */
struct dns *dns_new_from_config(uv_loop_t *loop, const struct config *cfg,
    char *err, size_t errlen);

#endif
