/* test_spf: the pure half of SPF (src/authn/spf_parse.c, spf_macro.c):
 * record selection, the record parser (valid and invalid records, cidr
 * lengths, modifiers), macro expansion with the RFC 7208 7.4 examples,
 * the 253-octet truncation, and the Sender ID PRA rules (spf_pra.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spf.h"
#include "spf_parse.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- record parser ------------------------------------------------------ */

struct parse_case {
	const char	*terms;		/* after "v=spf1" */
	bool		 ok;
	size_t		 nterms;
};

static const struct parse_case parse_cases[] = {
	{ .terms = "", .ok = true, .nterms = 0 },
	{ .terms = " -all", .ok = true, .nterms = 1 },
	{ .terms = "  +a  mx/24 ~ptr ?all  ", .ok = true, .nterms = 4 },
	{ .terms = " a:example.com/24//64 -all", .ok = true, .nterms = 2 },
	{ .terms = " a//64", .ok = true, .nterms = 1 },
	{ .terms = " ip4:192.0.2.0/24 ip6:2001:db8::/32", .ok = true,
	  .nterms = 2 },
	{ .terms = " include:_spf.example.com exists:%{ir}.x.example.com",
	  .ok = true, .nterms = 2 },
	{ .terms = " redirect=_spf.example.com exp=exp.%{d}", .ok = true,
	  .nterms = 0 },
	{ .terms = " foo=bar%{s}baz -all", .ok = true, .nterms = 1 },
	{ .terms = " a:foo:bar/baz.example.com", .ok = true, .nterms = 1 },
	{ .terms = " a:example.com.", .ok = true, .nterms = 1 },
	{ .terms = " A:EXAMPLE.COM -ALL", .ok = true, .nterms = 2 },
	/* invalid: the whole record is a permerror */
	{ .terms = "-all" },			/* no SP after version */
	{ .terms = " all:foo" },
	{ .terms = " a:museum" },		/* no top label */
	{ .terms = " a:example.123" },		/* numeric top label */
	{ .terms = " a:example.-com" },
	{ .terms = " a/33" },
	{ .terms = " a//129" },
	{ .terms = " a/024" },			/* leading zero */
	{ .terms = " ip4:192.0.2.1/33" },
	{ .terms = " ip4:192.0.2" },
	{ .terms = " ip6:2001:db8::/129" },
	{ .terms = " ip6:192.0.2.1" },
	{ .terms = " include" },
	{ .terms = " exists:" },
	{ .terms = " foo:bar" },		/* unknown mechanism */
	{ .terms = " redirect=a.example.com redirect=b.example.com" },
	{ .terms = " exp=a.example.com exp=b.example.com" },
	{ .terms = " exp=" },
	{ .terms = " 1foo=bar" },		/* modifier name */
	{ .terms = " =bar" },
	{ .terms = " exists:%(ir).example.com" },
	{ .terms = " exists:foo%.example.com" },
	{ .terms = " exists:%{ir" },
	{ .terms = " exists:%{q}.example.com" },
	{ .terms = " exists:%{c}.example.com" },	/* exp only */
	{ .terms = " exists:%{i0}.example.com" },
	{ .terms = " a:ex\tample.com" },
	{ .terms = " -all\t" },
};

static void
test_record_parse(void **state)
{
	struct spf_record rec;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(parse_cases); i++) {
		const struct parse_case *pc = &parse_cases[i];
		int r;

		err = NULL;
		r = spf_record_parse(pc->terms, strlen(pc->terms), &rec, &err);
		if (pc->ok != (r == 0))
			fail_msg("\"%s\": %s", pc->terms, err ? err : "parsed");
		if (r == 0) {
			assert_int_equal(rec.nterms, pc->nterms);
			spf_record_deinit(&rec);
		} else
			assert_non_null(err);
	}
}

static void
test_record_terms(void **state)
{
	const char *s = " -a:example.com/24//64 ~mx ip4:192.0.2.0/25 "
	    "redirect=r.example.com ?ip6:2001:db8::1 exp=e.example.com";
	struct spf_record rec;
	const char *err = NULL;

	(void)state;
	assert_int_equal(spf_record_parse(s, strlen(s), &rec, &err), 0);
	assert_int_equal(rec.nterms, 4);
	assert_int_equal(rec.terms[0].mech, SPF_MECH_A);
	assert_int_equal(rec.terms[0].qualifier, '-');
	assert_int_equal(rec.terms[0].domain_len, strlen("example.com"));
	assert_memory_equal(rec.terms[0].domain, "example.com", 11);
	assert_int_equal(rec.terms[0].cidr4, 24);
	assert_int_equal(rec.terms[0].cidr6, 64);
	assert_int_equal(rec.terms[1].mech, SPF_MECH_MX);
	assert_int_equal(rec.terms[1].qualifier, '~');
	assert_int_equal(rec.terms[1].domain_len, 0);
	assert_int_equal(rec.terms[1].cidr4, 32);
	assert_int_equal(rec.terms[1].cidr6, 128);
	assert_int_equal(rec.terms[2].mech, SPF_MECH_IP4);
	assert_int_equal(rec.terms[2].qualifier, '+');
	assert_int_equal(rec.terms[2].cidr4, 25);
	assert_int_equal(rec.terms[3].mech, SPF_MECH_IP6);
	assert_int_equal(rec.redirect_len, strlen("r.example.com"));
	assert_memory_equal(rec.redirect, "r.example.com", 13);
	assert_memory_equal(rec.exp, "e.example.com", 13);
	spf_record_deinit(&rec);
}

static void
test_record_version(void **state)
{
	size_t off = 0;

	(void)state;
	assert_int_equal(spf_record_version("v=spf1 -all", 11,
	    SPF_SCOPE_SPF1, &off), SPF_VERSION_SPF1);
	assert_int_equal(off, 6);
	assert_int_equal(spf_record_version("v=spf1", 6, SPF_SCOPE_SPF1,
	    &off), SPF_VERSION_SPF1);
	assert_int_equal(spf_record_version("V=SPF1 a", 8, SPF_SCOPE_SPF1,
	    &off), SPF_VERSION_SPF1);
	assert_int_equal(spf_record_version("v=spf1a", 7, SPF_SCOPE_SPF1,
	    &off), SPF_VERSION_NONE);
	assert_int_equal(spf_record_version("v=spf10 a", 9, SPF_SCOPE_SPF1,
	    &off), SPF_VERSION_NONE);
	assert_int_equal(spf_record_version("spf2.0/pra a", 12,
	    SPF_SCOPE_SPF1, &off), SPF_VERSION_NONE);
	assert_int_equal(spf_record_version("spf2.0/mfrom,pra a", 18,
	    SPF_SCOPE_PRA, &off), SPF_VERSION_SPF2);
	assert_int_equal(off, 16);
	assert_int_equal(spf_record_version("spf2.0/mfrom,prattle a", 22,
	    SPF_SCOPE_PRA, &off), SPF_VERSION_NONE);
	assert_int_equal(spf_record_version("spf2.0/pra", 10,
	    SPF_SCOPE_MFROM, &off), SPF_VERSION_NONE);
	assert_int_equal(spf_record_version("spf2./pra a", 11,
	    SPF_SCOPE_PRA, &off), SPF_VERSION_NONE);
}

/* ---- macros: RFC 7208 7.4 ------------------------------------------------ */

static void
vars_74(struct spf_macro_vars *v, bool ip6, char *i, size_t ilen, char *c,
    size_t clen)
{
	static const uint8_t a4[4] = { 192, 0, 2, 3 };
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0xcb, 0x01 };

	memset(v, 0, sizeof(*v));
	v->s = "strong-bad@email.example.com";
	v->l = "strong-bad";
	v->o = "email.example.com";
	v->d = "email.example.com";
	v->h = "mx.example.org";
	v->p = "mx.example.org";
	v->t = 1234567890;
	spf_macro_ip(ip6 ? 10 : 2, ip6 ? (const void *)a6 : (const void *)a4,
	    i, ilen, c, clen, &v->v);
	v->i = i;
	v->c = c;
}

struct macro_case {
	const char	*in;
	const char	*want;
	enum spf_macro_mode mode;
};

static const struct macro_case macro_cases[] = {
	{ "%{s}", "strong-bad@email.example.com", SPF_MACRO_EXPLAIN },
	{ "%{o}", "email.example.com", SPF_MACRO_DOMAIN },
	{ "%{d}", "email.example.com", SPF_MACRO_DOMAIN },
	{ "%{d4}", "email.example.com", SPF_MACRO_DOMAIN },
	{ "%{d3}", "email.example.com", SPF_MACRO_DOMAIN },
	{ "%{d2}", "example.com", SPF_MACRO_DOMAIN },
	{ "%{d1}", "com", SPF_MACRO_DOMAIN },
	{ "%{dr}", "com.example.email", SPF_MACRO_DOMAIN },
	{ "%{d2r}", "example.email", SPF_MACRO_DOMAIN },
	{ "%{l}", "strong-bad", SPF_MACRO_DOMAIN },
	{ "%{l-}", "strong.bad", SPF_MACRO_DOMAIN },
	{ "%{lr}", "strong-bad", SPF_MACRO_DOMAIN },
	{ "%{lr-}", "bad.strong", SPF_MACRO_DOMAIN },
	{ "%{l1r-}", "strong", SPF_MACRO_DOMAIN },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com",
	  SPF_MACRO_DOMAIN },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com",
	  SPF_MACRO_DOMAIN },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
	  SPF_MACRO_DOMAIN },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	  "3.2.0.192.in-addr.strong.lp._spf.example.com", SPF_MACRO_DOMAIN },
	{ "%{d2}.trusted-domains.example.net",
	  "example.com.trusted-domains.example.net", SPF_MACRO_DOMAIN },
	/* specials, upper case (URL escaping), exp-only letters */
	{ "a%%b%_c%-d", "a%b c%20d", SPF_MACRO_EXPLAIN },
	{ "%{S}", "strong-bad%40email.example.com", SPF_MACRO_EXPLAIN },
	{ "%{c} %{r} %{t}", "192.0.2.3 unknown 1234567890",
	  SPF_MACRO_EXPLAIN },
	{ "%{p}.example.com.", "mx.example.org.example.com",
	  SPF_MACRO_DOMAIN },
	{ "%{d0r}", NULL, SPF_MACRO_DOMAIN },
	{ "%{c}.example.com", NULL, SPF_MACRO_DOMAIN },
	{ "%x", NULL, SPF_MACRO_EXPLAIN },
	{ "%{l+-}", "strong.bad", SPF_MACRO_EXPLAIN },
	{ "%{d200}", "email.example.com", SPF_MACRO_DOMAIN },
	{ "This is a test.", "This is a test.", SPF_MACRO_EXPLAIN },
};

static void
test_macro_examples(void **state)
{
	char i[SPF_IP_I_MAX], c[64], out[SPF_EXPLAIN_MAX + 1];
	struct spf_macro_vars v;
	const char *err;
	size_t k;
	int n;

	(void)state;
	vars_74(&v, false, i, sizeof(i), c, sizeof(c));
	for (k = 0; k < NELEM(macro_cases); k++) {
		const struct macro_case *mc = &macro_cases[k];

		err = NULL;
		n = spf_macro_expand(mc->in, strlen(mc->in), mc->mode, &v, out,
		    sizeof(out), &err);
		if (mc->want == NULL) {
			if (n >= 0)
				fail_msg("%s: expanded to \"%s\"", mc->in, out);
			continue;
		}
		if (n < 0)
			fail_msg("%s: %s", mc->in, err);
		if (strcmp(out, mc->want) != 0)
			fail_msg("%s: \"%s\", want \"%s\"", mc->in, out,
			    mc->want);
		assert_int_equal((size_t)n, strlen(out));
	}
}

static void
test_macro_ip6(void **state)
{
	char i[SPF_IP_I_MAX], c[64], out[SPF_DOMAIN_MAX + 1];
	const char *in = "%{ir}.%{v}._spf.%{d2}", *err = NULL;
	struct spf_macro_vars v;

	(void)state;
	vars_74(&v, true, i, sizeof(i), c, sizeof(c));
	assert_string_equal(c, "2001:db8::cb01");
	assert_true(spf_macro_expand(in, strlen(in), SPF_MACRO_DOMAIN, &v,
	    out, sizeof(out), &err) > 0);
	/* RFC 7208 7.4 prints the nibbles in lower case; DNS names compare
	 * case-insensitively, and the suite's explanations use upper. */
	assert_true(strcasecmp(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com") == 0);
}

static void
test_macro_truncation(void **state)
{
	char i[SPF_IP_I_MAX], c[64], out[SPF_DOMAIN_MAX + 1], spec[1024];
	struct spf_macro_vars v;
	const char *err = NULL;
	size_t k, n = 0;
	int r;

	(void)state;
	vars_74(&v, false, i, sizeof(i), c, sizeof(c));
	/* 40 x "email.example.com." then "end.example.com": far beyond
	 * 253 octets; the left side goes, by whole labels. */
	for (k = 0; k < 40; k++)
		n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%%{o}.");
	n += (size_t)snprintf(spec + n, sizeof(spec) - n, "end.example.com");
	r = spf_macro_expand(spec, n, SPF_MACRO_DOMAIN, &v, out, sizeof(out),
	    &err);
	assert_true(r > 0);
	assert_true(r <= SPF_DOMAIN_MAX);
	assert_true(strlen(out) == (size_t)r);
	assert_true(r > SPF_DOMAIN_MAX - 18);	/* no more than a label cut */
	assert_true(strncmp(out + r - 15, "end.example.com", 15) == 0);
	assert_true(out[0] != '.');
	/* trailing dot dropped for domains, kept for explanations */
	assert_int_equal(spf_macro_expand("a.example.com.", 14,
	    SPF_MACRO_DOMAIN, &v, out, sizeof(out), &err), 13);
	assert_int_equal(spf_macro_expand("a.example.com.", 14,
	    SPF_MACRO_EXPLAIN, &v, out, sizeof(out), &err), 14);
}

static void
test_domain_valid(void **state)
{
	char label64[80];

	(void)state;
	assert_true(spf_domain_valid("example.com"));
	assert_true(spf_domain_valid("example.com."));
	assert_false(spf_domain_valid("example"));
	assert_false(spf_domain_valid("a..example.com"));
	assert_false(spf_domain_valid(""));
	assert_false(spf_domain_valid("exa mple.com"));
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".com", 5);
	assert_false(spf_domain_valid(label64));
	memcpy(label64 + 63, ".com", 5);	/* 63 octets: fine */
	assert_true(spf_domain_valid(label64));
}

/* ---- Sender ID: PRA (RFC 4407 2) ------------------------------------------ */

struct pra_case {
	const char	*msg;
	const char	*want;		/* NULL: no PRA */
};

static const struct pra_case pra_cases[] = {
	{ "From: a@example.com\r\n\r\nbody", "a@example.com" },
	{ "From: \"A, B\" <a@example.com> (c)\r\n\r\n", "a@example.com" },
	{ "Sender: s@example.org\r\nFrom: a@example.com\r\n\r\n",
	  "s@example.org" },
	{ "Sender: s@example.org\r\nSender: t@example.org\r\n"
	  "From: a@example.com\r\n\r\n", NULL },
	{ "From: a@example.com\r\nFrom: b@example.com\r\n\r\n", NULL },
	{ "From: a@example.com, b@example.com\r\n\r\n", NULL },
	{ "From: a\r\n\r\n", NULL },
	{ "Subject: x\r\n\r\n", NULL },
	{ "Resent-From: r@example.net\r\nFrom: a@example.com\r\n\r\n",
	  "r@example.net" },
	{ "Resent-Sender: rs@example.net\r\nResent-From: r@example.net\r\n"
	  "From: a@example.com\r\n\r\n", "rs@example.net" },
	/* a Received between the Resent-From and the Resent-Sender: the
	 * Resent-Sender belongs to an older resend (step 1) */
	{ "Resent-From: r@example.net\r\nReceived: from x\r\n"
	  "Resent-Sender: rs@example.net\r\nFrom: a@example.com\r\n\r\n",
	  "r@example.net" },
	{ "Sender:   \r\nFrom: a@example.com\r\n\r\n", "a@example.com" },
	{ "From: Someone\r\n <a@example.com>\r\n\r\n", "a@example.com" },
	{ "From: <@route.example:a@example.com>\r\n\r\n", "a@example.com" },
	{ "From: group: a@example.com;\r\n\r\n", NULL },
	{ "\r\nFrom: a@example.com\r\n", NULL },	/* body, not header */
};

static void
test_pra(void **state)
{
	char out[256];
	const char *err;
	size_t k;
	int r;

	(void)state;
	for (k = 0; k < NELEM(pra_cases); k++) {
		const struct pra_case *pc = &pra_cases[k];

		err = NULL;
		r = spf_pra_extract(pc->msg, strlen(pc->msg), out, sizeof(out),
		    &err);
		if (pc->want == NULL) {
			if (r == 0)
				fail_msg("case %zu: PRA \"%s\"", k, out);
			assert_non_null(err);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu: %s", k, err);
		assert_string_equal(out, pc->want);
	}
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test(test_record_terms),
		cmocka_unit_test(test_record_version),
		cmocka_unit_test(test_macro_examples),
		cmocka_unit_test(test_macro_ip6),
		cmocka_unit_test(test_macro_truncation),
		cmocka_unit_test(test_domain_valid),
		cmocka_unit_test(test_pra),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
