/* fuzz_spf: libFuzzer target for the SPF record parser and macro expander
 * (src/authn/spf_parse.c, spf_macro.c) and the Sender ID PRA extraction
 * (spf_pra.c). The input is a TXT record: its version is classified, its
 * terms parsed, and every domain-spec, modifier and the input as an
 * explanation expanded; results must respect the bounds callers rely on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"
#include "spf_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
expand(const char *s, size_t len, enum spf_macro_mode mode,
    const struct spf_macro_vars *v)
{
	char out[SPF_EXPLAIN_MAX + 1];
	const char *err = NULL;
	int n;

	n = spf_macro_expand(s, len, mode, v, out, sizeof(out), &err);
	if (n < 0) {
		if (err == NULL)
			abort();
		return;
	}
	if ((size_t)n != strlen(out) || (size_t)n >= sizeof(out))
		abort();
	if (mode == SPF_MACRO_DOMAIN && n > SPF_DOMAIN_MAX)
		abort();
	if (spf_macro_check(s, len, mode, &err) != 0)
		abort();	/* expanded, so it must check */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data, *err = NULL;
	struct spf_macro_vars v = {
		.s = "strong-bad@email.example.com", .l = "strong-bad",
		.o = "email.example.com", .d = "email.example.com",
		.i = "192.0.2.3", .c = "192.0.2.3", .v = "in-addr",
		.h = "mx.example.org", .p = "mx.example.org", .r = NULL,
		.t = 1,
	};
	struct spf_record rec;
	char pra[256];
	size_t off = 0, i;

	if (size > 65536)
		return 0;
	(void)spf_record_version(txt, size, SPF_SCOPE_PRA, &off);
	if (off > size)
		abort();
	if (spf_record_parse(txt + off, size - off, &rec, &err) == 0) {
		if (rec.nterms > SPF_TERMS_MAX)
			abort();
		for (i = 0; i < rec.nterms; i++) {
			const struct spf_term *t = &rec.terms[i];

			if (t->cidr4 > SPF_CIDR4_MAX ||
			    t->cidr6 > SPF_CIDR6_MAX)
				abort();
			if (t->domain_len > 0) {
				if (t->domain < txt ||
				    t->domain + t->domain_len > txt + size)
					abort();
				expand(t->domain, t->domain_len,
				    SPF_MACRO_DOMAIN, &v);
			}
		}
		if (rec.redirect != NULL)
			expand(rec.redirect, rec.redirect_len,
			    SPF_MACRO_DOMAIN, &v);
		if (rec.exp != NULL)
			expand(rec.exp, rec.exp_len, SPF_MACRO_DOMAIN, &v);
		spf_record_deinit(&rec);
	} else if (err == NULL)
		abort();
	expand(txt, size, SPF_MACRO_EXPLAIN, &v);
	expand(txt, size, SPF_MACRO_DOMAIN, &v);
	(void)spf_macro_uses_p(txt, size);
	if (spf_pra_extract(txt, size, pra, sizeof(pra), &err) == 0 &&
	    strlen(pra) >= sizeof(pra))
		abort();
	return 0;
}
