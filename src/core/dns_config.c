/* dns_config: struct dns_config from struct config. */
#include "dns_config.h"

#include <stdio.h>
#include <string.h>

#define DNS_CONFIG_ADDR_MAX 80	/* "[v6]:port" */

struct dns *
dns_new_from_config(uv_loop_t *loop, const struct config *cfg, char *err,
    size_t errlen)
{
	char addrs[CONFIG_MAX_RESOLVERS][DNS_CONFIG_ADDR_MAX];
	struct dns_config dcfg;
	unsigned i;

	memset(&dcfg, 0, sizeof(dcfg));
	for (i = 0; i < cfg->nresolvers && i < DNS_FORWARDERS_MAX; i++) {
		const struct listen_addr *a = &cfg->resolvers[i];
		int n = snprintf(addrs[i], sizeof(addrs[i]),
		    strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host,
		    (unsigned)a->port);

		if (n < 0 || (size_t)n >= sizeof(addrs[i])) {
			snprintf(err, errlen, "resolver address too long");
			return NULL;
		}
		dcfg.forwarders[dcfg.nforwarders++] = addrs[i];
	}
	dcfg.timeout_ms = cfg->dns_timeout;
	/* dns_new copies what it keeps: addrs may go out of scope. */
	return dns_new(loop, &dcfg, err, errlen);
}
