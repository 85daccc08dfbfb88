/* cidr: network parsing and matching. */
#include "cidr.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define CIDR_TEXT_MAX 64

static int
parse_addr(const char *s, int *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0xff, 0xff };

		/* ::ffff:a.b.c.d is the IPv4 host a.b.c.d */
		if (memcmp(addr, mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			memset(addr + 4, 0, 12);
			*family = AF_INET;
			return 0;
		}
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static void
mask_bits(uint8_t addr[16], unsigned prefix, unsigned bits)
{
	unsigned i;

	for (i = prefix; i < bits; i++)
		addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

int
cidr_parse(const char *s, struct cidr *c)
{
	char text[CIDR_TEXT_MAX];
	char *slash;
	uint64_t prefix;
	const char *error;
	unsigned bits;

	if (moat_strlcpy(text, s, sizeof(text)) >= sizeof(text))
		return -1;
	slash = strchr(text, '/');
	if (slash != NULL)
		*slash = '\0';
	if (parse_addr(text, &c->family, c->addr) < 0)
		return -1;
	bits = c->family == AF_INET ? 32 : 128;
	c->prefix = bits;
	if (slash != NULL) {
		if (parse_u64(slash + 1, 0, bits, &prefix, &error) < 0)
			return -1;
		c->prefix = (unsigned)prefix;
	}
	mask_bits(c->addr, c->prefix, bits);
	return 0;
}

int
cidr_parse_list(const char *s, struct cidr *out, unsigned max,
    unsigned *n_r, const char **error_r)
{
	char item[CIDR_TEXT_MAX];
	unsigned n = 0;

	while (*s != '\0') {
		size_t len;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t");
		if (len >= sizeof(item)) {
			*error_r = "network too long";
			return -1;
		}
		if (n == max) {
			*error_r = "too many networks";
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (cidr_parse(item, &out[n]) < 0) {
			*error_r = "expected ADDR or ADDR/PREFIX";
			return -1;
		}
		n++;
		s += len;
	}
	*n_r = n;
	return 0;
}

bool
cidr_match(const struct cidr *c, const char *ip)
{
	uint8_t addr[16];
	int family;

	if (parse_addr(ip, &family, addr) < 0 || family != c->family)
		return false;
	mask_bits(addr, c->prefix, family == AF_INET ? 32 : 128);
	return memcmp(addr, c->addr, 16) == 0;
}

bool
cidr_match_any(const struct cidr *c, unsigned n, const char *ip)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (cidr_match(&c[i], ip))
			return true;
	return false;
}
