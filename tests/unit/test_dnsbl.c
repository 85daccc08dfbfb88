/* test_dnsbl: the DNSBL/DNSWL module (src/policy/dnsbl.c). Without DNS:
 * the zone-spec parser (good and bad specs), query names, answer-code
 * classification, which addresses are skipped, the log format. Against a
 * real DNS server (tests/dns/dnsserver.py on a free 127.0.0.1 port, zone
 * written here): listed and unlisted addresses, IPv6, code ranges and
 * patterns, 127.0.0.1 ignored, 127.255.255.254 as a zone error, an
 * allowlist subtracting, timeouts and SERVFAIL as errors, TXT reasons
 * sanitized, skipped addresses answered from the loop, and cancellation.
 * The server script is $MOAT_DNSSERVER, else found next to this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "dns.h"
#include "dns_fixture.h"
#include "dnsbl.h"
#include "util.h"

#define QUERY_TIMEOUT_MS 500
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define V6_REV "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"

static const char zone_text[] =
    "$ORIGIN bl.example.\n"
    "$TTL 300\n"
    "@          SOA ns hostmaster 1 3600 600 86400 60\n"
    "2.0.0.127  A 127.0.0.2\n"			/* RFC 5782 test entry */
    "2.2.0.192  A 127.0.0.2\n"
    "2.2.0.192  A 127.0.0.4\n"
    "2.2.0.192  TXT \"Listed \\\"here\\\"\\001 caf\\195\\169\"\n"
    "4.2.0.192  A 127.0.0.1\n"
    "5.2.0.192  A 127.255.255.254\n"
    "8.2.0.192  A 192.0.2.99\n"
    V6_REV "    A 127.0.0.3\n"
    "$ORIGIN codes.example.\n"
    "6.2.0.192  A 127.0.0.20\n"
    "9.2.0.192  A 127.0.0.10\n"
    "$ORIGIN wl.example.\n"
    "2.2.0.192  A 127.0.10.2\n"
    "6.2.0.192  A 127.0.10.0\n"
    "$ORIGIN slow.example.\n"
    "2.2.0.192  TIMEOUT\n"
    "$ORIGIN txtslow.example.\n"
    "2.2.0.192  A 127.0.0.2\n"
    "2.2.0.192  TIMEOUT\n"			/* the TXT query */
    "$ORIGIN broken.example.\n"
    "2.2.0.192  SERVFAIL\n";

struct fixture {
	struct dns_fixture	 dns;
};

/* One check's outcome, copied out of the callback. */
struct outcome {
	bool		 returned;	/* dnsbl_check has returned */
	bool		 called;
	bool		 early;		/* called before returning */
	int		 ncalls;
	struct dnsbl_result res;	/* zone and why pointers are stale */
	char		 skipped[32];
	char		 text[DNSBL_FORMAT_MAX];
};

/* ---- the server ---------------------------------------------------------- */

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	dns_fixture_start(&f->dns, zone_text);
	*state = f;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	dns_fixture_stop(&f->dns);
	free(f);
	return 0;
}

/* ---- loop helpers ------------------------------------------------------- */

static struct dns *
make_dns(uv_loop_t *loop, int port)
{
	struct dns_config cfg = { .nforwarders = 1,
		.timeout_ms = QUERY_TIMEOUT_MS };
	char fwd[32], err[256];
	struct dns *dns;

	assert_int_equal(uv_loop_init(loop), 0);
	snprintf(fwd, sizeof(fwd), "127.0.0.1:%d", port);
	cfg.forwarders[0] = fwd;
	dns = dns_new(loop, &cfg, err, sizeof(err));
	if (dns == NULL)
		fail_msg("dns_new: %s", err);
	return dns;
}

static void
end_dns(uv_loop_t *loop, struct dns **dns)
{
	dns_free(dns);
	assert_null(*dns);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
on_result(const struct dnsbl_result *res, void *ctx)
{
	struct outcome *o = ctx;

	o->ncalls++;
	o->called = true;
	o->early = !o->returned;
	o->res = *res;
	moat_strlcpy(o->skipped, res->skipped != NULL ? res->skipped : "",
	    sizeof(o->skipped));
	dnsbl_result_format(res, o->text, sizeof(o->text));
}

/* Parse spec, check ip on a fresh resolver and wait for the result. */
static void
check(struct fixture *f, const char *spec, bool loopback, bool txt,
    const char *ip, struct outcome *o)
{
	struct dnsbl_config cfg;
	const char *err = NULL;
	struct dnsbl_query *q;
	uv_loop_t loop;
	struct dns *dns;

	if (dnsbl_parse(spec, &cfg, &err) != 0)
		fail_msg("dnsbl_parse \"%s\": %s", spec, err);
	cfg.query_loopback = loopback;
	cfg.fetch_txt = txt;
	dns = make_dns(&loop, f->dns.port);
	memset(o, 0, sizeof(*o));
	q = dnsbl_check(&loop, dns, &cfg, ip, on_result, o);
	assert_non_null(q);
	o->returned = true;
	loop_run_until(&loop, &o->called);
	assert_false(o->early);
	/* Nothing calls back twice, late answers included. */
	loop_run_for(&loop, 50);
	assert_int_equal(o->ncalls, 1);
	end_dns(&loop, &dns);
}

/* ---- parsing ------------------------------------------------------------ */

static void
test_parse_good(void **state)
{
	struct dnsbl_config cfg;
	const char *err = NULL;
	const struct dnsbl_code *c;

	(void)state;
	assert_int_equal(dnsbl_parse("", &cfg, &err), 0);
	assert_int_equal(cfg.nzones, 0);
	assert_int_equal(cfg.threshold, DNSBL_THRESHOLD_DEFAULT);
	assert_false(cfg.query_loopback);
	assert_int_equal(dnsbl_parse(" , ,", &cfg, &err), 0);
	assert_int_equal(cfg.nzones, 0);

	assert_int_equal(dnsbl_parse("bl.example", &cfg, &err), 0);
	assert_int_equal(cfg.nzones, 1);
	assert_string_equal(cfg.zones[0].name, "bl.example");
	assert_int_equal(cfg.zones[0].weight, 1);
	assert_int_equal(cfg.zones[0].ncodes, 0);

	assert_int_equal(dnsbl_parse("zen.spamhaus.example=127.0.0.2-"
	    "127.0.0.11:5, bl.example:2, list.dnswl.example="
	    "127.0.[0..255].[1..3]:-3", &cfg, &err), 0);
	assert_int_equal(cfg.nzones, 3);
	assert_string_equal(cfg.zones[0].name, "zen.spamhaus.example");
	assert_int_equal(cfg.zones[0].weight, 5);
	assert_int_equal(cfg.zones[0].ncodes, 1);
	c = &cfg.zones[0].codes[0];
	assert_false(c->octets);
	assert_int_equal(c->lo, 0x7f000002);
	assert_int_equal(c->hi, 0x7f00000b);
	assert_string_equal(cfg.zones[1].name, "bl.example");
	assert_int_equal(cfg.zones[1].weight, 2);
	assert_int_equal(cfg.zones[2].weight, -3);
	c = &cfg.zones[2].codes[0];
	assert_true(c->octets);
	assert_memory_equal(c->olo, ((uint8_t[]){ 127, 0, 0, 1 }), 4);
	assert_memory_equal(c->ohi, ((uint8_t[]){ 127, 0, 255, 3 }), 4);

	/* Blanks, case, a trailing dot, '+', a trailing comma. */
	assert_int_equal(dnsbl_parse("  BL.Example. : +4 ,\tX_y.example = "
	    "127.0.0.2 | 127.0.0.4-127.0.0.7|127.0.0.[9..10] : 0,", &cfg,
	    &err), 0);
	assert_int_equal(cfg.nzones, 2);
	assert_string_equal(cfg.zones[0].name, "bl.example");
	assert_int_equal(cfg.zones[0].weight, 4);
	assert_string_equal(cfg.zones[1].name, "x_y.example");
	assert_int_equal(cfg.zones[1].weight, 0);
	assert_int_equal(cfg.zones[1].ncodes, 3);
	assert_int_equal(dnsbl_parse("a.example:1000,b.example:-1000", &cfg,
	    &err), 0);
}

static void
test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"bl", "127.0.0.2", "bl.123", "bl..example", ".bl.example",
		"-bl.example", "bl-.example", "bl.example-", "bl.ex ample",
		"bl.ex@mple", "bl.example.." , "=127.0.0.2", ":5",
		"bl.example:", "bl.example:x", "bl.example:1001",
		"bl.example:-1001", "bl.example:--1", "bl.example:1:2",
		"bl.example:1.5", "bl.example=", "bl.example=127.0.0",
		"bl.example=127.0.0.256", "bl.example=127.0.0.02",
		"bl.example=127.0.0.3-127.0.0.2", "bl.example=127.0.0.[3..2]",
		"bl.example=127.0.0.[3..]", "bl.example=127.0.0.[3.4]",
		"bl.example=127.0.0.2||127.0.0.3", "bl.example=127.0.0.2|",
		"bl.example=127.0.0.[1..2]-127.0.0.9", "bl.example=::1",
		"bl.example=127.0.0.2.", "bl.example=127.0.0.2x",
		"bl.example,BL.example.", "a.example=127.0.0.2=127.0.0.3",
		"bl.example=127.0.0.1-127.0.0.2-127.0.0.3",
	};
	struct dnsbl_config cfg;
	char spec[DNSBL_SPEC_MAX + 64], label[64];
	const char *err;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(bad); i++) {
		err = NULL;
		if (dnsbl_parse(bad[i], &cfg, &err) == 0)
			fail_msg("\"%s\" parsed", bad[i]);
		assert_non_null(err);
		assert_int_equal(cfg.nzones, 0);
	}

	/* Too many zones. */
	spec[0] = '\0';
	for (i = 0; i <= DNSBL_ZONES_MAX; i++) {
		snprintf(label, sizeof(label), "z%zu.example,", i);
		assert_true(moat_strlcat(spec, label, sizeof(spec)) <
		    sizeof(spec));
	}
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), -1);
	assert_string_equal(err, "too many zones");
	spec[strlen(spec) - strlen(label)] = '\0';
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), 0);
	assert_int_equal(cfg.nzones, DNSBL_ZONES_MAX);

	/* Too many codes. */
	moat_strlcpy(spec, "bl.example=127.0.0.1", sizeof(spec));
	for (i = 2; i <= DNSBL_CODES_MAX + 1; i++) {
		snprintf(label, sizeof(label), "|127.0.0.%zu", i);
		moat_strlcat(spec, label, sizeof(spec));
	}
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), -1);
	assert_non_null(strstr(err, "too many"));

	/* A zone name too long for an IPv6 query name; a 64-octet label;
	 * an over-long spec. */
	memset(spec, 'a', sizeof(spec));
	for (i = 60; i < DNSBL_ZONE_NAME_MAX; i += 61)
		spec[i] = '.';
	moat_strlcpy(spec + DNSBL_ZONE_NAME_MAX - 8, ".example",
	    sizeof(spec) - DNSBL_ZONE_NAME_MAX + 8);
	assert_int_equal(strlen(spec), DNSBL_ZONE_NAME_MAX);
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), 0);
	moat_strlcpy(spec + DNSBL_ZONE_NAME_MAX - 8, "a.example",
	    sizeof(spec) - DNSBL_ZONE_NAME_MAX + 8);
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), -1);
	memset(spec, 'a', 64);
	moat_strlcpy(spec + 64, ".example", sizeof(spec) - 64);
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), -1);
	memset(spec, ',', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	assert_int_equal(dnsbl_parse(spec, &cfg, &err), -1);
}

/* ---- names, codes, addresses, format ------------------------------------ */

static void
test_query_name(void **state)
{
	char buf[DNSBL_QNAME_MAX + 1];

	(void)state;
	assert_int_equal(dnsbl_query_name("192.0.2.1", "bl.example", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, "1.2.0.192.bl.example");
	assert_int_equal(dnsbl_query_name("2001:db8::1", "bl.example", buf,
	    sizeof(buf)), 0);
	assert_string_equal(buf, V6_REV ".bl.example");
	assert_int_equal(dnsbl_query_name("2001:DB8::ABCD", "x.example",
	    buf, sizeof(buf)), 0);
	assert_string_equal(buf, "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".0.0.0.8.b.d.0.1.0.0.2.x.example");
	assert_int_equal(dnsbl_query_name("::ffff:192.0.2.1", "bl.example",
	    buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.2.0.192.bl.example");
	assert_int_equal(dnsbl_query_name("192.0.2", "bl.example", buf,
	    sizeof(buf)), -1);
	assert_int_equal(dnsbl_query_name("", "bl.example", buf,
	    sizeof(buf)), -1);
	assert_int_equal(dnsbl_query_name("192.0.2.1", "bl.example", buf,
	    20), -1);
	assert_int_equal(dnsbl_query_name("192.0.2.1", "bl.example", buf,
	    21), 0);
}

static enum dnsbl_code_kind
classify(const struct dnsbl_config *cfg, size_t zone, const char *code)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, code, &a), 1);
	return dnsbl_code_classify(&cfg->zones[zone], &a);
}

static void
test_classify(void **state)
{
	struct dnsbl_config cfg;
	const char *err = NULL;

	(void)state;
	assert_int_equal(dnsbl_parse("any.example, r.example="
	    "127.0.0.2-127.0.0.11|127.0.0.1|192.0.2.5, "
	    "p.example=127.0.[0..255].[1..3]", &cfg, &err), 0);
	/* No codes: 127/8, but never 127.0.0.1 nor the refusals. */
	assert_int_equal(classify(&cfg, 0, "127.0.0.2"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 0, "127.1.2.3"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 0, "127.255.255.251"),
	    DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 0, "127.0.0.1"), DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 0, "128.0.0.2"), DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 0, "192.0.2.99"),
	    DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 0, "127.255.255.252"),
	    DNSBL_CODE_ERROR);
	assert_int_equal(classify(&cfg, 0, "127.255.255.254"),
	    DNSBL_CODE_ERROR);
	assert_int_equal(classify(&cfg, 0, "127.255.255.255"),
	    DNSBL_CODE_ERROR);
	/* Ranges: inclusive; 127.0.0.1 ignored even when configured. */
	assert_int_equal(classify(&cfg, 1, "127.0.0.2"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 1, "127.0.0.11"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 1, "127.0.0.12"),
	    DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 1, "127.0.0.1"), DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 1, "192.0.2.5"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 1, "127.255.255.254"),
	    DNSBL_CODE_ERROR);
	/* Octet patterns. */
	assert_int_equal(classify(&cfg, 2, "127.0.10.2"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 2, "127.0.255.3"), DNSBL_CODE_LISTED);
	assert_int_equal(classify(&cfg, 2, "127.0.10.0"), DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 2, "127.0.10.4"), DNSBL_CODE_IGNORED);
	assert_int_equal(classify(&cfg, 2, "127.1.10.2"), DNSBL_CODE_IGNORED);
}

static void
test_skip_reason(void **state)
{
	static const struct {
		const char	*ip;
		const char	*why;		/* NULL: looked up */
	} cases[] = {
		{ "192.0.2.1", NULL },
		{ "198.51.100.7", NULL },
		{ "2001:db8::1", NULL },
		{ "10.1.2.3", "private" },
		{ "172.16.0.1", "private" },
		{ "172.31.255.255", "private" },
		{ "172.32.0.1", NULL },
		{ "192.168.1.1", "private" },
		{ "100.64.0.1", "private" },
		{ "100.128.0.1", NULL },
		{ "169.254.1.1", "link-local" },
		{ "0.0.0.0", "unspecified" },
		{ "127.0.0.2", "loopback" },
		{ "::1", "loopback" },
		{ "::", "unspecified" },
		{ "fd00::1", "private" },
		{ "fc00::1", "private" },
		{ "fe80::1", "link-local" },
		{ "::ffff:10.0.0.1", "private" },
		{ "::ffff:127.0.0.1", "loopback" },
		{ "::ffff:192.0.2.1", NULL },
		{ "garbage", "not an address" },
		{ "", "not an address" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		const char *why = dnsbl_skip_reason(cases[i].ip, false);

		if (cases[i].why == NULL ? why != NULL :
		    why == NULL || strcmp(why, cases[i].why) != 0)
			fail_msg("%s: %s", cases[i].ip, why ? why : "NULL");
	}
	assert_null(dnsbl_skip_reason("127.0.0.2", true));
	assert_null(dnsbl_skip_reason("::1", true));
	assert_string_equal(dnsbl_skip_reason("10.0.0.1", true), "private");
}

static void
test_format(void **state)
{
	struct dnsbl_result r;
	char buf[DNSBL_FORMAT_MAX], small[16];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.nzones = 3;
	r.zones[0].zone = "zen.spamhaus.example";
	r.zones[0].weight = 5;
	r.zones[0].listed = true;
	r.zones[0].nanswers = 3;
	moat_strlcpy(r.zones[0].answers[0].text, "127.0.0.2", INET_ADDRSTRLEN);
	r.zones[0].answers[0].kind = DNSBL_CODE_LISTED;
	moat_strlcpy(r.zones[0].answers[1].text, "127.0.0.1", INET_ADDRSTRLEN);
	r.zones[0].answers[1].kind = DNSBL_CODE_IGNORED;
	moat_strlcpy(r.zones[0].answers[2].text, "127.0.0.4", INET_ADDRSTRLEN);
	r.zones[0].answers[2].kind = DNSBL_CODE_LISTED;
	r.zones[1].zone = "bl.example";
	r.zones[1].weight = 2;
	r.zones[2].zone = "wl.example";
	r.zones[2].weight = -3;
	r.zones[2].error = true;
	r.score = 5;
	assert_string_equal(dnsbl_result_format(&r, buf, sizeof(buf)),
	    "zen.spamhaus.example=127.0.0.2,127.0.0.4(+5) bl.example=-(0) "
	    "wl.example=error(0) score=5");
	dnsbl_result_format(&r, small, sizeof(small));
	assert_string_equal(small, "zen.spamhaus.ex");
	r.skipped = "private";
	assert_string_equal(dnsbl_result_format(&r, buf, sizeof(buf)),
	    "skipped=private");
}

/* ---- against the DNS server --------------------------------------------- */

static void
test_listed_and_not(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	const struct dnsbl_zone_result *z;

	check(f, "bl.example:3", false, false, "192.0.2.2", &o);
	assert_null(o.res.skipped);
	assert_int_equal(o.res.nzones, 1);
	z = &o.res.zones[0];
	assert_true(z->listed);
	assert_false(z->error);
	assert_int_equal(z->nanswers, 2);
	assert_false(z->has_txt);
	assert_int_equal(o.res.score, 3);
	assert_true(o.res.listed);
	assert_false(o.res.allowlisted);
	assert_int_equal(o.res.nerrors, 0);
	assert_string_equal(o.text,
	    "bl.example=127.0.0.2,127.0.0.4(+3) score=3");

	check(f, "bl.example:3", false, false, "192.0.2.3", &o);
	assert_false(o.res.zones[0].listed);
	assert_false(o.res.zones[0].error);
	assert_int_equal(o.res.score, 0);
	assert_false(o.res.listed);
	assert_string_equal(o.text, "bl.example=-(0) score=0");

	/* A threshold above the score: looked up, listed in the zone, but
	 * not listed overall. */
	check(f, "bl.example", false, false, "192.0.2.2", &o);
	assert_true(o.res.listed);
	{
		struct dnsbl_config cfg;
		const char *err;
		struct dnsbl_query *q;
		uv_loop_t loop;
		struct dns *dns = make_dns(&loop, f->dns.port);

		assert_int_equal(dnsbl_parse("bl.example:3", &cfg, &err), 0);
		cfg.threshold = 4;
		memset(&o, 0, sizeof(o));
		q = dnsbl_check(&loop, dns, &cfg, "192.0.2.2", on_result, &o);
		assert_non_null(q);
		o.returned = true;
		loop_run_until(&loop, &o.called);
		assert_true(o.res.zones[0].listed);
		assert_int_equal(o.res.score, 3);
		assert_false(o.res.listed);
		end_dns(&loop, &dns);
	}
}

static void
test_ipv6_and_loopback(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	check(f, "bl.example", false, false, "2001:db8::1", &o);
	assert_true(o.res.zones[0].listed);
	assert_string_equal(o.res.zones[0].answers[0].text, "127.0.0.3");
	check(f, "bl.example", false, false, "2001:db8::2", &o);
	assert_false(o.res.zones[0].listed);
	check(f, "bl.example", false, false, "::ffff:192.0.2.2", &o);
	assert_true(o.res.zones[0].listed);

	/* 127.0.0.2 is the RFC 5782 test entry, looked up on request. */
	check(f, "bl.example", true, false, "127.0.0.2", &o);
	assert_null(o.res.skipped);
	assert_true(o.res.listed);
	check(f, "bl.example", false, false, "127.0.0.2", &o);
	assert_string_equal(o.skipped, "loopback");
	assert_int_equal(o.res.nzones, 0);
	assert_false(o.res.listed);
	assert_string_equal(o.text, "skipped=loopback");
	check(f, "bl.example", true, false, "10.0.0.2", &o);
	assert_string_equal(o.skipped, "private");
}

static void
test_codes(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	/* 127.0.0.20 is outside the codes: not listed, but kept. */
	check(f, "codes.example=127.0.0.2-127.0.0.11:5", false, false,
	    "192.0.2.6", &o);
	assert_false(o.res.zones[0].listed);
	assert_false(o.res.zones[0].error);
	assert_int_equal(o.res.zones[0].nanswers, 1);
	assert_int_equal(o.res.zones[0].answers[0].kind, DNSBL_CODE_IGNORED);
	assert_int_equal(o.res.score, 0);
	check(f, "codes.example=127.0.0.2-127.0.0.11:5", false, false,
	    "192.0.2.9", &o);
	assert_true(o.res.zones[0].listed);
	assert_int_equal(o.res.score, 5);
	/* Without codes 127.0.0.20 counts. */
	check(f, "codes.example:5", false, false, "192.0.2.6", &o);
	assert_true(o.res.zones[0].listed);

	/* 127.0.0.1 is never a listing; nor is an answer outside 127/8. */
	check(f, "bl.example", false, false, "192.0.2.4", &o);
	assert_false(o.res.zones[0].listed);
	assert_false(o.res.zones[0].error);
	assert_string_equal(o.res.zones[0].answers[0].text, "127.0.0.1");
	check(f, "bl.example=127.0.0.1", false, false, "192.0.2.4", &o);
	assert_false(o.res.zones[0].listed);
	check(f, "bl.example", false, false, "192.0.2.8", &o);
	assert_false(o.res.zones[0].listed);

	/* 127.255.255.254: the zone refused; an error, not a listing. */
	check(f, "bl.example:5", false, false, "192.0.2.5", &o);
	assert_false(o.res.zones[0].listed);
	assert_true(o.res.zones[0].error);
	assert_int_equal(o.res.nerrors, 1);
	assert_int_equal(o.res.score, 0);
	assert_false(o.res.listed);
	assert_string_equal(o.text, "bl.example=error(0) score=0");
}

static void
test_allowlist(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	check(f, "bl.example:5, wl.example=127.0.[0..255].[1..3]:-3", false,
	    false, "192.0.2.2", &o);
	assert_true(o.res.zones[0].listed);
	assert_true(o.res.zones[1].listed);
	assert_int_equal(o.res.score, 2);
	assert_true(o.res.listed);
	assert_true(o.res.allowlisted);
	assert_string_equal(o.text, "bl.example=127.0.0.2,127.0.0.4(+5) "
	    "wl.example=127.0.10.2(-3) score=2");

	check(f, "bl.example:2, wl.example=127.0.[0..255].[1..3]:-3", false,
	    false, "192.0.2.2", &o);
	assert_int_equal(o.res.score, -1);
	assert_false(o.res.listed);

	/* 127.0.10.0 is outside the pattern. */
	check(f, "wl.example=127.0.[0..255].[1..3]:-3", false, false,
	    "192.0.2.6", &o);
	assert_false(o.res.zones[0].listed);
	assert_false(o.res.allowlisted);
	assert_int_equal(o.res.score, 0);
}

static void
test_errors_do_not_count(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	uint64_t t0 = uv_hrtime(), ms;

	check(f, "bl.example:2, slow.example:10, broken.example:10", false,
	    false, "192.0.2.2", &o);
	ms = (uv_hrtime() - t0) / 1000000;
	assert_true(o.res.zones[0].listed);
	assert_false(o.res.zones[1].listed);
	assert_true(o.res.zones[1].error);
	assert_false(o.res.zones[2].listed);
	assert_true(o.res.zones[2].error);
	assert_int_equal(o.res.nerrors, 2);
	assert_int_equal(o.res.score, 2);
	assert_string_equal(o.text, "bl.example=127.0.0.2,127.0.0.4(+2) "
	    "slow.example=error(0) broken.example=error(0) score=2");
	/* The zones are asked in parallel: one timeout, not two. */
	assert_true(ms < QUERY_TIMEOUT_MS + 700);
}

static void
test_txt_reason(void **state)
{
	struct fixture *f = *state;
	struct outcome o;

	check(f, "bl.example:5, wl.example=127.0.[0..255].[1..3]:-3", false,
	    true, "192.0.2.2", &o);
	assert_true(o.res.zones[0].has_txt);
	assert_string_equal(o.res.zones[0].txt, "Listed \"here\"? caf??");
	/* Not fetched for allowlists, nor for zones that did not list. */
	assert_false(o.res.zones[1].has_txt);
	check(f, "bl.example", false, true, "192.0.2.3", &o);
	assert_false(o.res.zones[0].has_txt);
	/* The TXT query times out: still listed. */
	check(f, "txtslow.example", false, true, "192.0.2.2", &o);
	assert_true(o.res.zones[0].listed);
	assert_false(o.res.zones[0].error);
	assert_false(o.res.zones[0].has_txt);
	/* Listed, but no TXT there. */
	check(f, "bl.example", false, true, "2001:db8::1", &o);
	assert_true(o.res.zones[0].listed);
	assert_false(o.res.zones[0].has_txt);
}

static void
test_no_lookup_from_loop(void **state)
{
	struct fixture *f = *state;
	struct dnsbl_config cfg;
	const char *err;
	struct outcome o = { 0 };
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port);

	/* No zones, and a skipped address: still answered from the loop. */
	assert_int_equal(dnsbl_parse("", &cfg, &err), 0);
	assert_non_null(dnsbl_check(&loop, dns, &cfg, "192.0.2.2", on_result,
	    &o));
	o.returned = true;
	loop_run_until(&loop, &o.called);
	assert_false(o.early);
	assert_int_equal(o.res.score, 0);
	assert_string_equal(o.text, "score=0");

	assert_int_equal(dnsbl_parse("bl.example", &cfg, &err), 0);
	memset(&o, 0, sizeof(o));
	assert_non_null(dnsbl_check(&loop, dns, &cfg, "192.168.0.1",
	    on_result, &o));
	o.returned = true;
	loop_run_until(&loop, &o.called);
	assert_false(o.early);
	assert_string_equal(o.skipped, "private");
	assert_int_equal(dns_pending(dns), 0);

	/* Not an address: refused at once. */
	assert_null(dnsbl_check(&loop, dns, &cfg, "192.0.2", on_result, &o));
	assert_null(dnsbl_check(&loop, dns, &cfg, "bl.example", on_result,
	    &o));
	end_dns(&loop, &dns);
}

static void
test_cancel(void **state)
{
	struct fixture *f = *state;
	struct dnsbl_config cfg;
	const char *err;
	struct outcome o[3] = { 0 }, after = { 0 };
	struct dnsbl_query *q[3];
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port);
	size_t i;

	assert_int_equal(dnsbl_parse("bl.example, slow.example, "
	    "wl.example:-1", &cfg, &err), 0);
	cfg.fetch_txt = true;
	q[0] = dnsbl_check(&loop, dns, &cfg, "192.0.2.2", on_result, &o[0]);
	q[1] = dnsbl_check(&loop, dns, &cfg, "10.0.0.1", on_result, &o[1]);
	q[2] = dnsbl_check(&loop, dns, &cfg, "2001:db8::1", on_result,
	    &o[2]);
	assert_int_equal(dns_pending(dns), 6);
	for (i = 0; i < NELEM(q); i++) {
		assert_non_null(q[i]);
		dnsbl_cancel(q[i]);
	}
	dnsbl_cancel(NULL);
	assert_int_equal(dns_pending(dns), 0);
	/* Past the timeout, and long enough for the real answers. */
	loop_run_for(&loop, QUERY_TIMEOUT_MS + 300);
	for (i = 0; i < NELEM(o); i++)
		assert_false(o[i].called);

	/* Cancelled between the A answer and the TXT one (which never
	 * comes from txtslow.example). */
	assert_int_equal(dnsbl_parse("txtslow.example", &cfg, &err), 0);
	cfg.fetch_txt = true;
	q[0] = dnsbl_check(&loop, dns, &cfg, "192.0.2.2", on_result, &o[0]);
	loop_run_for(&loop, QUERY_TIMEOUT_MS / 2);
	assert_int_equal(dns_pending(dns), 1);
	assert_false(o[0].called);
	dnsbl_cancel(q[0]);
	assert_int_equal(dns_pending(dns), 0);
	loop_run_for(&loop, QUERY_TIMEOUT_MS);

	/* The resolver still works. */
	assert_non_null(dnsbl_check(&loop, dns, &cfg, "192.0.2.3", on_result,
	    &after));
	after.returned = true;
	loop_run_until(&loop, &after.called);
	assert_false(after.res.listed);
	assert_false(o[0].called);
	end_dns(&loop, &dns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_query_name),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_skip_reason),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_listed_and_not),
		cmocka_unit_test(test_ipv6_and_loopback),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_errors_do_not_count),
		cmocka_unit_test(test_txt_reason),
		cmocka_unit_test(test_no_lookup_from_loop),
		cmocka_unit_test(test_cancel),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
