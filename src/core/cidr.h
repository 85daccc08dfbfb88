/* cidr: IPv4/IPv6 networks in CIDR notation ("192.0.2.0/24", "::1",
 * "2001:db8::/32") and matching an address against them. Used by relay
 * control (trusted networks) and screening. */
#ifndef MOAT_CIDR_H
#define MOAT_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];	/* network address, host bits cleared */
	unsigned prefix;	/* 0..32 or 0..128 */
};

/* Parse "ADDR[/PREFIX]" (no prefix: a single host). Returns 0 or -1. */
int cidr_parse(const char *s, struct cidr *c);
/* Parse a comma-separated list into out[0..max). */
int cidr_parse_list(const char *s, struct cidr *out, unsigned max,
    unsigned *n_r, const char **error_r);
/* Does the numeric address string ip fall inside c? An IPv4-mapped IPv6
 * address matches IPv4 networks. */
bool cidr_match(const struct cidr *c, const char *ip);
bool cidr_match_any(const struct cidr *c, unsigned n, const char *ip);

#endif
