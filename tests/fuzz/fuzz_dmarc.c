/* fuzz_dmarc: libFuzzer target for the DMARC record parser and record
 * selection (src/authn/dmarc.c), the RFC 5322.From domain extraction,
 * evaluation of a parsed record, and the Authentication-Results text.
 * The input is a TXT record (also tried as a message header). Results
 * must respect the bounds callers rely on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_record(const struct dmarc_record *r)
{
	size_t i;

	if (r->pct > 100 || r->nrua > DMARC_URIS_MAX ||
	    r->nruf > DMARC_URIS_MAX || r->p == DMARC_P_UNSET)
		abort();
	for (i = 0; i < r->nrua; i++)
		if (strlen(r->rua[i]) == 0 || strlen(r->rua[i]) > DMARC_URI_MAX)
			abort();
	for (i = 0; i < r->nruf; i++)
		if (strlen(r->ruf[i]) == 0 || strlen(r->ruf[i]) > DMARC_URI_MAX)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), from[DMARC_DOMAIN_MAX + 1];
	char ar[DMARC_AR_MAX];
	struct dmarc_record rec;
	struct dmarc_result res;
	struct dns_txt txt;
	const char *err = NULL;
	int r;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = dmarc_record_parse(s, size, &rec, &err);
	if (r < -1 || r > 1 || (r == -1 && err == NULL))
		abort();
	if (r == 0) {
		struct dmarc_auth in = {
			.from_domain = "example.com", .spf = SPF_FAIL,
			.spf_domain = "example.net", .pct_roll = (int)(size % 100),
		};

		check_record(&rec);
		dmarc_evaluate(&rec, "example.com", &in, &res);
		if (res.status != DMARC_FAIL ||
		    dmarc_ar_format(&res, ar, sizeof(ar)) < 0)
			abort();
	}
	txt.s = s;
	txt.len = size;
	if (dmarc_record_select(&txt, 1, &rec, &err) == DMARC_SELECT_FOUND) {
		if (r != 0 || memchr(s, '\0', size) != NULL)
			abort();
		check_record(&rec);
	}
	/* The input as a header block. */
	r = dmarc_from_domain(data, size, from, sizeof(from), &err);
	if (r == 0) {
		if (strlen(from) == 0 || strlen(from) > DMARC_DOMAIN_MAX)
			abort();
		if (dmarc_org_domain(from, ar, sizeof(ar)) < 0)
			abort();
	} else if (r < 0 && err == NULL)
		abort();
	free(s);
	return 0;
}
