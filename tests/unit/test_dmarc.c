/* test_dmarc: the DMARC record parser (valid and invalid records, the
 * rua= fallback of RFC 7489 6.6.3 step 6), record selection from a TXT
 * set, Organizational Domains through libpsl, relaxed and strict
 * alignment for SPF and DKIM, pct sampling with a forced roll, sp= for
 * subdomains, the From domain rules, the Authentication-Results text and
 * a report row stored and listed. Pure core: no DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmarc.h"
#include "store.h"
#include "util.h"

#define S(lit)	(lit), strlen(lit)

static void
test_record_valid(void **state)
{
	struct dmarc_record r;
	const char *err = NULL;

	(void)state;
	assert_int_equal(dmarc_record_parse(S("v=DMARC1; p=reject"), &r,
	    &err), 0);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_UNSET);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_int_equal(r.ri, DMARC_RI_DEFAULT);

	assert_int_equal(dmarc_record_parse(S(" v = DMARC1 ;p=Quarantine ; "
	    "sp=none; pct=25; adkim=s; aspf=s; fo=1:d : s; ri=3600; "
	    "rua=mailto:a@example.org!10m, mailto:b@example.org; "
	    "ruf=mailto:f@example.org; rf=afrf; future=whatever;"), &r,
	    &err), 0);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(r.sp, DMARC_P_NONE);
	assert_int_equal(r.pct, 25);
	assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
	assert_int_equal(r.aspf, DMARC_ALIGN_STRICT);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.nrua, 2);
	assert_string_equal(r.rua[0], "mailto:a@example.org!10m");
	assert_string_equal(r.rua[1], "mailto:b@example.org");
	assert_int_equal(r.nruf, 1);
	assert_false(r.p_implied);

	/* 6.6.3 step 6.1: no (or a bad) p= but a valid rua=: p=none. */
	assert_int_equal(dmarc_record_parse(S("v=DMARC1; "
	    "rua=mailto:r@example.org"), &r, &err), 0);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_true(r.p_implied);
	assert_int_equal(dmarc_record_parse(S("v=DMARC1; p=bogus; "
	    "rua=mailto:r@example.org"), &r, &err), 0);
	assert_true(r.p_implied);
	assert_int_equal(dmarc_record_parse(S("v=DMARC1; p=reject; sp=x; "
	    "rua=mailto:r@example.org"), &r, &err), 0);
	assert_int_equal(r.p, DMARC_P_NONE);
}

static void
test_record_invalid(void **state)
{
	static const char *const not_dmarc[] = {
		"v=spf1 -all", "", "v=DMARC2; p=none", "p=none; v=DMARC1",
		"v=dmarc1; p=none", "v=DMARC1x; p=none", "V=DMARC1; p=none",
	};
	static const char *const invalid[] = {
		"v=DMARC1",			/* no p=, no rua= */
		"v=DMARC1; p=bogus",
		"v=DMARC1; p=reject; sp=bogus",
		"v=DMARC1; p=none; p=reject",	/* duplicate */
		"v=DMARC1; p=none; pct=101",
		"v=DMARC1; p=none; pct=-1",
		"v=DMARC1; p=none; pct=1000",
		"v=DMARC1; p=none; adkim=x",
		"v=DMARC1; p=none; aspf=relaxed",
		"v=DMARC1; p=none; fo=2",
		"v=DMARC1; p=none; fo=1:",
		"v=DMARC1; p=none; ri=abc",
		"v=DMARC1; p=none; ri=99999999999",
		"v=DMARC1;; p=none",
		"v=DMARC1; p none",
		"v=DMARC1; 1p=none",
		"v=DMARC1; p=none; rua=nouri",	/* p ok, rua ignored: valid */
		"v=DMARC1; rua=nouri",		/* no valid rua: invalid */
		"v=DMARC1; p=no\x01ne",
	};
	struct dmarc_record r;
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_dmarc) / sizeof(not_dmarc[0]); i++)
		assert_int_equal(dmarc_record_parse(S(not_dmarc[i]), &r,
		    &err), 1);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		int want = strcmp(invalid[i],
		    "v=DMARC1; p=none; rua=nouri") == 0 ? 0 : -1;

		err = NULL;
		if (dmarc_record_parse(S(invalid[i]), &r, &err) != want)
			fail_msg("%s", invalid[i]);
		if (want < 0)
			assert_non_null(err);
	}
}

static void
test_record_select(void **state)
{
	struct dns_txt one[] = {
		{ (char *)"v=spf1 -all", 11 },
		{ (char *)"v=DMARC1; p=reject", 18 },
	};
	struct dns_txt two[] = {
		{ (char *)"v=DMARC1; p=reject", 18 },
		{ (char *)"v=DMARC1; p=none", 16 },
	};
	struct dns_txt bad[] = {
		{ (char *)"v=DMARC1; p=nope", 16 },
	};
	struct dns_txt none[] = {
		{ (char *)"hello", 5 },
	};
	struct dmarc_record r;
	const char *err;

	(void)state;
	assert_int_equal(dmarc_record_select(one, 2, &r, &err),
	    DMARC_SELECT_FOUND);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(dmarc_record_select(two, 2, &r, &err),
	    DMARC_SELECT_MULTIPLE);
	assert_int_equal(dmarc_record_select(bad, 1, &r, &err),
	    DMARC_SELECT_INVALID);
	assert_int_equal(dmarc_record_select(none, 1, &r, &err),
	    DMARC_SELECT_EMPTY);
	assert_int_equal(dmarc_record_select(NULL, 0, &r, &err),
	    DMARC_SELECT_EMPTY);
}

static void
test_org_domain(void **state)
{
	static const struct {
		const char	*in;
		const char	*org;
	} cases[] = {
		{ "a.b.example.co.uk", "example.co.uk" },
		{ "example.co.uk", "example.co.uk" },
		{ "co.uk", "co.uk" },
		{ "mail.Example.COM", "example.com" },
		{ "example.com.", "example.com" },
		{ "x.y.z.example.org", "example.org" },
		{ "www.city.kawasaki.jp", "city.kawasaki.jp" },
		{ "foo.blogspot.com", "foo.blogspot.com" },	/* private */
		{ "localhost", "localhost" },
	};
	char out[DMARC_DOMAIN_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(dmarc_org_domain(cases[i].in, out,
		    sizeof(out)), 0);
		if (strcmp(out, cases[i].org) != 0)
			fail_msg("%s -> %s, want %s", cases[i].in, out,
			    cases[i].org);
	}
	assert_int_equal(dmarc_org_domain("bad domain", out, sizeof(out)), -1);
	assert_int_equal(dmarc_org_domain("a..b", out, sizeof(out)), -1);
	assert_int_equal(dmarc_org_domain("", out, sizeof(out)), -1);
	assert_int_equal(dmarc_org_domain("example.com", out, 4), -1);
}

static void
test_alignment(void **state)
{
	(void)state;
	assert_true(dmarc_aligned("example.com", "EXAMPLE.com",
	    DMARC_ALIGN_STRICT));
	assert_false(dmarc_aligned("mail.example.com", "example.com",
	    DMARC_ALIGN_STRICT));
	assert_true(dmarc_aligned("mail.example.com", "example.com",
	    DMARC_ALIGN_RELAXED));
	assert_true(dmarc_aligned("a.example.co.uk", "b.example.co.uk",
	    DMARC_ALIGN_RELAXED));
	assert_false(dmarc_aligned("example.co.uk", "other.co.uk",
	    DMARC_ALIGN_RELAXED));
	assert_false(dmarc_aligned("example.com", "example.net",
	    DMARC_ALIGN_RELAXED));
	assert_false(dmarc_aligned("", "example.net", DMARC_ALIGN_RELAXED));
	assert_string_equal(dmarc_spf_domain("u@Bounce.Example.org", "h"),
	    "Bounce.Example.org");
	assert_string_equal(dmarc_spf_domain("", "helo.example"),
	    "helo.example");
	assert_string_equal(dmarc_spf_domain(NULL, NULL), "");
}

static struct dkim_result
dkim_res(enum dkim_status st, const char *d)
{
	struct dkim_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	moat_strlcpy(r.domain, d, sizeof(r.domain));
	return r;
}

static void
eval(const char *rec_text, const char *policy_domain, const char *from,
    enum spf_result spf, const char *spf_domain,
    const struct dkim_result *dkim, size_t ndkim, int roll,
    struct dmarc_result *out)
{
	struct dmarc_record rec;
	const char *err;
	struct dmarc_auth in = {
		.from_domain = from, .spf = spf, .spf_domain = spf_domain,
		.dkim = dkim, .ndkim = ndkim, .pct_roll = roll,
	};

	if (rec_text == NULL) {
		dmarc_evaluate(NULL, NULL, &in, out);
		return;
	}
	assert_int_equal(dmarc_record_parse(S(rec_text), &rec, &err), 0);
	dmarc_evaluate(&rec, policy_domain, &in, out);
}

static void
test_evaluate(void **state)
{
	struct dkim_result d[3];
	struct dmarc_result r;

	(void)state;
	/* A bad SPF domain (an attacker's HELO name) is no domain, not
	 * its valid-looking start ("mx.") */
	eval("v=DMARC1; p=reject", "example.com", "example.com", SPF_PASS,
	    "mx.\xff\xfe", NULL, 0, 0, &r);
	assert_string_equal(r.spf_domain, "");
	assert_false(r.spf_aligned);
	/* SPF only, relaxed: a subdomain bounce address aligns. */
	eval("v=DMARC1; p=reject", "example.com", "example.com", SPF_PASS,
	    "bounce.example.com", NULL, 0, 0, &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.spf_aligned);
	assert_false(r.dkim_aligned);
	assert_int_equal(r.disposition, DMARC_DISP_NONE);
	/* ... but not in strict mode. */
	eval("v=DMARC1; p=reject; aspf=s", "example.com", "example.com",
	    SPF_PASS, "bounce.example.com", NULL, 0, 0, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_DISP_REJECT);
	assert_int_equal(r.policy, DMARC_P_REJECT);
	/* SPF softfail never aligns. */
	eval("v=DMARC1; p=quarantine", "example.com", "example.com",
	    SPF_SOFTFAIL, "example.com", NULL, 0, 0, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_DISP_QUARANTINE);

	/* DKIM only: a failing aligned one and a passing unaligned one do
	 * not pass; a passing aligned one does. */
	d[0] = dkim_res(DKIM_FAIL, "example.com");
	d[1] = dkim_res(DKIM_PASS, "esp.example.net");
	eval("v=DMARC1; p=reject", "example.com", "example.com", SPF_FAIL,
	    "esp.example.net", d, 2, 0, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.dkim, DKIM_PASS);
	assert_string_equal(r.dkim_domain, "esp.example.net");
	d[2] = dkim_res(DKIM_PASS, "mail.example.com");
	eval("v=DMARC1; p=reject", "example.com", "example.com", SPF_FAIL,
	    "esp.example.net", d, 3, 0, &r);
	assert_int_equal(r.status, DMARC_PASS);
	assert_true(r.dkim_aligned);
	assert_string_equal(r.dkim_domain, "mail.example.com");
	eval("v=DMARC1; p=reject; adkim=s", "example.com", "example.com",
	    SPF_FAIL, "esp.example.net", d, 3, 0, &r);
	assert_int_equal(r.status, DMARC_FAIL);

	/* p=none: fail, disposition none. */
	eval("v=DMARC1; p=none", "example.com", "example.com", SPF_FAIL,
	    "example.com", NULL, 0, 0, &r);
	assert_int_equal(r.status, DMARC_FAIL);
	assert_int_equal(r.disposition, DMARC_DISP_NONE);

	/* No record: none, alignment still computed. */
	eval(NULL, NULL, "example.com", SPF_PASS, "example.com", NULL, 0, 0,
	    &r);
	assert_int_equal(r.status, DMARC_NONE);
	assert_true(r.spf_aligned);
	/* No From domain: permerror. */
	eval(NULL, NULL, NULL, SPF_PASS, "example.com", NULL, 0, 0, &r);
	assert_int_equal(r.status, DMARC_PERMERROR);
}

static void
test_pct(void **state)
{
	struct dmarc_result r;

	(void)state;
	/* pct=30: rolls 0..29 apply the policy, 30..99 do not. */
	eval("v=DMARC1; p=reject; pct=30", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, 29, &r);
	assert_int_equal(r.disposition, DMARC_DISP_REJECT);
	assert_false(r.sampled_out);
	eval("v=DMARC1; p=reject; pct=30", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, 30, &r);
	assert_true(r.sampled_out);
	/* 6.6.4: a reject not sampled is quarantined ... */
	assert_int_equal(r.disposition, DMARC_DISP_QUARANTINE);
	/* ... and a quarantine not sampled is left alone. */
	eval("v=DMARC1; p=quarantine; pct=30", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, 99, &r);
	assert_int_equal(r.disposition, DMARC_DISP_NONE);
	/* pct=0 never applies, pct=100 always. */
	eval("v=DMARC1; p=reject; pct=0", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, 0, &r);
	assert_int_equal(r.disposition, DMARC_DISP_QUARANTINE);
	eval("v=DMARC1; p=reject", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, 99, &r);
	assert_int_equal(r.disposition, DMARC_DISP_REJECT);
	/* the random roll: pct=0 and pct=100 are certain */
	eval("v=DMARC1; p=reject; pct=100", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, -1, &r);
	assert_int_equal(r.disposition, DMARC_DISP_REJECT);
	eval("v=DMARC1; p=quarantine; pct=0", "example.com", "example.com",
	    SPF_FAIL, "example.com", NULL, 0, -1, &r);
	assert_int_equal(r.disposition, DMARC_DISP_NONE);
}

static void
test_subdomain_policy(void **state)
{
	struct dmarc_result r;

	(void)state;
	/* Found at the org domain for a subdomain: sp= applies. */
	eval("v=DMARC1; p=reject; sp=quarantine", "example.com",
	    "news.example.com", SPF_FAIL, "x.example.net", NULL, 0, 0, &r);
	assert_true(r.subdomain);
	assert_int_equal(r.policy, DMARC_P_QUARANTINE);
	assert_int_equal(r.disposition, DMARC_DISP_QUARANTINE);
	/* Without sp=, p= applies to subdomains. */
	eval("v=DMARC1; p=reject", "example.com", "news.example.com",
	    SPF_FAIL, "x.example.net", NULL, 0, 0, &r);
	assert_int_equal(r.policy, DMARC_P_REJECT);
	/* The From domain's own record: p= even with sp=. */
	eval("v=DMARC1; p=reject; sp=none", "news.example.com",
	    "news.example.com", SPF_FAIL, "x.example.net", NULL, 0, 0, &r);
	assert_false(r.subdomain);
	assert_int_equal(r.policy, DMARC_P_REJECT);
	assert_string_equal(r.org_domain, "example.com");
}

static void
test_from_domain(void **state)
{
	static const struct {
		const char	*msg;
		int		 ret;
		const char	*domain;
	} cases[] = {
		{ "From: a@Example.COM\r\n\r\nbody", 0, "example.com" },
		{ "Subject: x\r\nFROM : \"Alice, A\" <alice@ex.org> "
		    "(comment)\r\nTo: b@c.d\r\n\r\n", 0, "ex.org" },
		{ "From: Alice\r\n <alice@folded.example>\r\n\r\n", 0,
		    "folded.example" },
		{ "From: a@x.example, b@x.example\r\n\r\n", 0, "x.example" },
		{ "From: a@x.example, b@y.example\r\n\r\n", -1, NULL },
		{ "From: a@x.example\r\nFrom: a@x.example\r\n\r\n", -1, NULL },
		{ "To: a@x.example\r\n\r\nFrom: a@x.example\r\n", -1, NULL },
		{ "From: undisclosed:;\r\n\r\n", 1, NULL },
		{ "From: a@bad_domain!\r\n\r\n", -1, NULL },
		{ "From: a@[192.0.2.1]\r\n\r\n", -1, NULL },
		{ "", -1, NULL },
	};
	char out[DMARC_DOMAIN_MAX + 1];
	const char *err;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		r = dmarc_from_domain(cases[i].msg, strlen(cases[i].msg), out,
		    sizeof(out), &err);
		if (r != cases[i].ret)
			fail_msg("case %zu: %d, want %d (%s)", i, r,
			    cases[i].ret, err ? err : "");
		if (r == 0)
			assert_string_equal(out, cases[i].domain);
		if (r < 0)
			assert_non_null(err);
	}
}

static void
test_ar_and_report(void **state)
{
	char ar[DMARC_AR_MAX], dir[] = "/tmp/test_dmarc.XXXXXX";
	struct dmarc_report_row row;
	struct dmarc_result r;
	struct store *st;
	struct dkim_result d = dkim_res(DKIM_PASS, "example.com");
	const char *err;

	(void)state;
	eval("v=DMARC1; p=reject; sp=none", "example.com", "example.com",
	    SPF_FAIL, "other.example", &d, 1, 0, &r);
	assert_int_equal(dmarc_ar_format(&r, ar, sizeof(ar)), 0);
	assert_string_equal(ar, "dmarc=pass (p=reject sp=none dis=none) "
	    "header.from=example.com");
	assert_int_equal(dmarc_ar_format(&r, ar, 10), -1);
	eval(NULL, NULL, "example.com", SPF_FAIL, "other.example", NULL, 0,
	    0, &r);
	assert_int_equal(dmarc_ar_format(&r, ar, sizeof(ar)), 0);
	assert_string_equal(ar, "dmarc=none header.from=example.com");

	eval("v=DMARC1; p=quarantine", "example.com", "example.com",
	    SPF_FAIL, "other.example", NULL, 0, 0, &r);
	dmarc_report_row(&r, "192.0.2.1", 1700000000, &row);
	assert_string_equal(row.header_from, "example.com");
	assert_string_equal(row.disposition, "quarantine");
	assert_string_equal(row.spf, "fail");
	assert_string_equal(row.spf_domain, "other.example");
	assert_false(row.spf_aligned);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &st, &err), 0);
	assert_int_equal(dmarc_report_store(st, &row, &err), 0);
	store_close(&st);
	{
		char cmd[128];

		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_valid),
		cmocka_unit_test(test_record_invalid),
		cmocka_unit_test(test_record_select),
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_evaluate),
		cmocka_unit_test(test_pct),
		cmocka_unit_test(test_subdomain_policy),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_ar_and_report),
	};

	return cmocka_run_group_tests_name("dmarc", tests, NULL, NULL);
}
