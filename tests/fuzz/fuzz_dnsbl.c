/* fuzz_dnsbl: libFuzzer target for the DNSBL zone-spec parser and the
 * reading of answer codes (src/policy/dnsbl.c). The input is a spec: a
 * parsed one must respect the limits, every zone must make a query name
 * that fits, and the input's bytes read as A records must classify by the
 * fixed rules (127.0.0.1 never listed, 127.255.255.252-255 an error).
 * The input is also tried as a client address. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_code(const struct dnsbl_zone *z, uint32_t a)
{
	struct in_addr in = { .s_addr = htonl(a) };
	enum dnsbl_code_kind k = dnsbl_code_classify(z, &in);

	if (a >= 0x7ffffffcu && a <= 0x7fffffffu) {
		if (k != DNSBL_CODE_ERROR)
			abort();
	} else if (k == DNSBL_CODE_ERROR)
		abort();
	if (a == 0x7f000001u && k != DNSBL_CODE_IGNORED)
		abort();
	if (z->ncodes == 0 && (a >> 24) != 127 && k != DNSBL_CODE_IGNORED)
		abort();
}

static void
check_config(const struct dnsbl_config *cfg, const uint8_t *data,
    size_t size)
{
	static struct dnsbl_result res;
	char qname[DNSBL_QNAME_MAX + 1], text[DNSBL_FORMAT_MAX];
	size_t i, j, len;

	if (cfg->nzones > DNSBL_ZONES_MAX)
		abort();
	memset(&res, 0, sizeof(res));
	for (i = 0; i < cfg->nzones; i++) {
		const struct dnsbl_zone *z = &cfg->zones[i];

		len = strnlen(z->name, sizeof(z->name));
		if (len == 0 || len > DNSBL_ZONE_NAME_MAX ||
		    z->ncodes > DNSBL_CODES_MAX ||
		    z->weight < -DNSBL_WEIGHT_MAX ||
		    z->weight > DNSBL_WEIGHT_MAX)
			abort();
		for (j = 0; j < z->ncodes; j++)
			if (!z->codes[j].octets && z->codes[j].lo >
			    z->codes[j].hi)
				abort();
		if (dnsbl_query_name("2001:db8::1", z->name, qname,
		    sizeof(qname)) != 0 ||
		    dnsbl_query_name("255.255.255.255", z->name, qname,
		    sizeof(qname)) != 0)
			abort();
		check_code(z, 0x7f000001u);
		check_code(z, 0x7f000002u);
		check_code(z, 0x7ffffffeu);
		for (j = 0; j + 4 <= size && j < 256; j += 4)
			check_code(z, (uint32_t)data[j] << 24 |
			    (uint32_t)data[j + 1] << 16 |
			    (uint32_t)data[j + 2] << 8 | data[j + 3]);
		res.zones[i].zone = z->name;
		res.zones[i].weight = z->weight;
		res.zones[i].listed = (i & 1) != 0;
		res.zones[i].error = (i & 2) != 0;
	}
	res.nzones = cfg->nzones;
	dnsbl_result_format(&res, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dnsbl_config cfg;
	char qname[DNSBL_QNAME_MAX + 1];
	const char *err = NULL;
	char *s;

	if (size > DNSBL_SPEC_MAX + 16)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (dnsbl_parse(s, &cfg, &err) == 0)
		check_config(&cfg, data, size);
	else if (err == NULL || cfg.nzones != 0)
		abort();
	if (dnsbl_query_name(s, "bl.example", qname, sizeof(qname)) == 0 &&
	    strlen(qname) >= sizeof(qname))
		abort();
	(void)dnsbl_skip_reason(s, false);
	free(s);
	return 0;
}
