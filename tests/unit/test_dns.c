/* test_dns: the libunbound-over-libuv resolver against a real DNS server
 * (tests/dns/dnsserver.py on a free 127.0.0.1 port, zone written here):
 * MX order and null MX, A/AAAA, TXT concatenation, NXDOMAIN vs NODATA,
 * CNAME chains, SERVFAIL and timeouts as DNS_TEMPFAIL, the cache, and
 * cancellation. The server script is $MOAT_DNSSERVER, else found next to
 * this file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
#include "util.h"

#define QUERY_TIMEOUT_MS 500
#define DESC_MAX 2048
#define ASK_PTR_OF_IP 0		/* ask(): dns_query_ptr() on an IP */

/* 300 octets: more than one character-string can hold. */
#define LONG60 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
#define LONG300 LONG60 LONG60 LONG60 LONG60 LONG60

static const char zone_text[] =
    "$ORIGIN zone.example.\n"
    "$TTL 300\n"
    "@        SOA ns hostmaster 1 3600 600 86400 60\n"
    "@        MX 20 mx2\n"
    "@        MX 10 mx1.zone.example.\n"
    "@        MX 30 mx3\n"
    "@        MX 10 mx0\n"
    "mx1      A 192.0.2.1\n"
    "mx1      A 192.0.2.2\n"
    "mx1      AAAA 2001:db8::1\n"
    "txt      TXT \"v=spf1 \" \"ip4:192.0.2.0/24\" \" -all\"\n"
    "spf      SPF \"v=spf1 -all\"\n"
    "long     TXT \"" LONG300 "\"\n"
    "alias    CNAME alias2\n"
    "alias2   CNAME mx1\n"
    "a.b.c    A 192.0.2.9\n"
    "short 1  A 192.0.2.10\n"
    "n1       A 192.0.2.11\n"
    "n2       A 192.0.2.12\n"
    "n3       A 192.0.2.13\n"
    "slow     TIMEOUT\n"
    "broken   SERVFAIL\n"
    "nullmx   MX 0 .\n"
    "odd      PTR we\\.ird.zone.example.\n"
    "1.2.0.192.in-addr.arpa. PTR mx1\n"
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
    ".ip6.arpa. PTR mx1.zone.example.\n";

struct fixture {
	struct dns_fixture	 dns;
};

/* One query's outcome, copied out of the callback. */
struct outcome {
	bool		 returned;	/* dns_query_* has returned */
	bool		 called;
	bool		 early;		/* called before returning */
	int		 ncalls;
	enum dns_status	 status;
	bool		 from_cache;
	bool		 null_mx;
	uint32_t	 ttl;
	char		 canon[DNS_NAME_TEXT_MAX + 1];
	char		 why[64];
	char		 desc[DESC_MAX];	/* the data, one line */
};

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

/* ---- loop helpers ----------------------------------------------------- */

static struct dns *
make_dns_cache(uv_loop_t *loop, int port, unsigned timeout_ms,
    size_t cache_max)
{
	struct dns_config cfg = { .nforwarders = 1, .timeout_ms = timeout_ms,
		.cache_max = cache_max };
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

static struct dns *
make_dns(uv_loop_t *loop, int port, unsigned timeout_ms)
{
	return make_dns_cache(loop, port, timeout_ms, 0);
}

/* Free dns, let the handles close, and check nothing is left open. */
static void
end_dns(uv_loop_t *loop, struct dns **dns)
{
	dns_free(dns);
	assert_null(*dns);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

static void
append(char *buf, const char *s)
{
	assert_true(moat_strlcat(buf, s, DESC_MAX) < DESC_MAX);
}

static void
on_result(const struct dns_result *res, void *ctx)
{
	struct outcome *o = ctx;
	char item[DNS_TXT_TOTAL_MAX < 1024 ? DNS_TXT_TOTAL_MAX : 1024];
	size_t i;

	o->ncalls++;
	o->called = true;
	o->early = !o->returned;
	o->status = res->status;
	o->from_cache = res->from_cache;
	o->null_mx = res->null_mx;
	o->ttl = res->ttl;
	moat_strlcpy(o->canon, res->canon, sizeof(o->canon));
	moat_strlcpy(o->why, res->why ? res->why : "", sizeof(o->why));
	o->desc[0] = '\0';
	for (i = 0; i < res->count; i++) {
		if (i > 0)
			append(o->desc, " ");
		if (res->mx != NULL) {
			snprintf(item, sizeof(item), "%u:%s", res->mx[i].pref,
			    res->mx[i].host);
		} else if (res->addr != NULL) {
			snprintf(item, sizeof(item), "%s", res->addr[i].str);
		} else if (res->txt != NULL) {
			assert_int_equal(strlen(res->txt[i].s),
			    res->txt[i].len);
			snprintf(item, sizeof(item), "[%s]", res->txt[i].s);
		} else if (res->names != NULL) {
			snprintf(item, sizeof(item), "%s", res->names[i]);
		} else {
			snprintf(item, sizeof(item), "?");
		}
		append(o->desc, item);
	}
}

/* Ask one question on a fresh resolver and wait for the answer. */
static void
ask(struct fixture *f, const char *name, uint16_t qtype, struct outcome *o)
{
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port, 2000);

	memset(o, 0, sizeof(*o));
	if (qtype == ASK_PTR_OF_IP)
		(void)dns_query_ptr(dns, name, on_result, o);
	else
		(void)dns_query(dns, name, qtype, on_result, o);
	o->returned = true;
	loop_run_until(&loop, &o->called);
	assert_false(o->early);
	assert_int_equal(o->ncalls, 1);
	assert_int_equal(dns_pending(dns), 0);
	end_dns(&loop, &dns);
}

/* ---- tests ------------------------------------------------------------ */

/* The MX set of zone.example in preference order; unbound may rotate the
 * two of preference 10 (RFC 5321 5.1 wants them randomised anyway). */
static void
assert_mx_list(const char *desc)
{
	if (strcmp(desc, "10:mx1.zone.example 10:mx0.zone.example "
	    "20:mx2.zone.example 30:mx3.zone.example") != 0)
		assert_string_equal(desc, "10:mx0.zone.example "
		    "10:mx1.zone.example 20:mx2.zone.example "
		    "30:mx3.zone.example");
}

static void
test_mx_sorted_by_preference(void **state)
{
	struct outcome o;

	ask(*state, "Zone.EXAMPLE.", DNS_TYPE_MX, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_mx_list(o.desc);
	assert_false(o.null_mx);
	assert_string_equal(o.canon, "zone.example");
	assert_true(o.ttl > 0 && o.ttl <= 300);
}

static void
test_null_mx(void **state)
{
	struct outcome o;

	ask(*state, "nullmx.zone.example", DNS_TYPE_MX, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_true(o.null_mx);
	assert_string_equal(o.desc, "0:.");
}

static void
test_a_and_aaaa(void **state)
{
	struct outcome o;

	ask(*state, "mx1.zone.example", DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_true(strcmp(o.desc, "192.0.2.1 192.0.2.2") == 0 ||
	    strcmp(o.desc, "192.0.2.2 192.0.2.1") == 0);
	ask(*state, "mx1.zone.example", DNS_TYPE_AAAA, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "2001:db8::1");
}

static void
test_txt_strings_concatenated(void **state)
{
	struct outcome o;

	ask(*state, "txt.zone.example", DNS_TYPE_TXT, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "[v=spf1 ip4:192.0.2.0/24 -all]");
	/* The server splits it into 255 + 45 octets. */
	ask(*state, "long.zone.example", DNS_TYPE_TXT, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "[" LONG300 "]");
	ask(*state, "spf.zone.example", DNS_TYPE_SPF, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "[v=spf1 -all]");
}

static void
test_nxdomain_vs_nodata(void **state)
{
	struct outcome o;

	ask(*state, "nope.zone.example", DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_NXDOMAIN);
	assert_int_equal(o.desc[0], '\0');
	/* The name exists, without MX. */
	ask(*state, "mx1.zone.example", DNS_TYPE_MX, &o);
	assert_int_equal(o.status, DNS_NODATA);
	/* An empty non-terminal exists too (RFC 8020). */
	ask(*state, "b.c.zone.example", DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_NODATA);
	ask(*state, "a.b.c.zone.example", DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "192.0.2.9");
}

static void
test_cname_chain_followed(void **state)
{
	struct outcome o;

	ask(*state, "alias.zone.example", DNS_TYPE_AAAA, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "2001:db8::1");
	assert_string_equal(o.canon, "mx1.zone.example");
	/* Direct name: canon is the name asked. */
	ask(*state, "mx1.zone.example.", DNS_TYPE_AAAA, &o);
	assert_string_equal(o.canon, "mx1.zone.example");
}

static void
test_ptr(void **state)
{
	struct outcome o;

	ask(*state, "192.0.2.1", ASK_PTR_OF_IP, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "mx1.zone.example");
	ask(*state, "2001:db8::1", ASK_PTR_OF_IP, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "mx1.zone.example");
	ask(*state, "192.0.2.77", ASK_PTR_OF_IP, &o);
	assert_int_equal(o.status, DNS_NXDOMAIN);
	/* Odd octets in names come back escaped. */
	ask(*state, "odd.zone.example", DNS_TYPE_PTR, &o);
	assert_int_equal(o.status, DNS_OK);
	assert_string_equal(o.desc, "we\\.ird.zone.example");
}

/* Names with octets a host name cannot have are still queried (SPF macro
 * expansion produces them, RFC 7208 7.3), escaped for unbound: the server
 * answers for them like for any other name. */
static void
test_odd_octets_are_queried(void **state)
{
	static const char *const odd[] = {
		"has space.zone.example", "back\\slash.zone.example",
		"semi;colon(paren).zone.example", "tab\tx.zone.example",
	};
	struct outcome o;
	size_t i;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		ask(*state, odd[i], DNS_TYPE_A, &o);
		assert_int_equal(o.status, DNS_NXDOMAIN);
	}
}

static void
test_invalid_input_permfail(void **state)
{
	static const char *const bad[] = {
		"", ".", "a..b",
		("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa.test"),	/* 64-octet label */
	};
	char longname[300];
	struct outcome o;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ask(*state, bad[i], DNS_TYPE_A, &o);
		assert_int_equal(o.status, DNS_PERMFAIL);
	}
	memset(longname, 'a', sizeof(longname));
	for (i = 10; i < sizeof(longname); i += 10)
		longname[i] = '.';
	longname[254] = '\0';		/* 254 octets: one too many */
	ask(*state, longname, DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_PERMFAIL);
	ask(*state, "192.0.2.300", ASK_PTR_OF_IP, &o);
	assert_int_equal(o.status, DNS_PERMFAIL);
}

static void
test_servfail_is_tempfail(void **state)
{
	struct outcome o;

	ask(*state, "broken.zone.example", DNS_TYPE_A, &o);
	assert_int_equal(o.status, DNS_TEMPFAIL);
	assert_string_equal(o.why, "servfail");	/* not the timeout */
}

static void
test_timeout_is_tempfail_in_time(void **state)
{
	struct fixture *f = *state;
	struct outcome o = { 0 };
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port, QUERY_TIMEOUT_MS);
	uint64_t t0 = uv_hrtime(), ms;

	(void)dns_query_a(dns, "slow.zone.example", on_result, &o);
	o.returned = true;
	loop_run_until(&loop, &o.called);
	ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(o.status, DNS_TEMPFAIL);
	assert_string_equal(o.why, "timeout");
	assert_true(ms >= QUERY_TIMEOUT_MS - 20);
	assert_true(ms < QUERY_TIMEOUT_MS + 400);
	/* The late answer (there is none) or unbound's own failure must not
	 * call back again. */
	loop_run_for(&loop, 300);
	assert_int_equal(o.ncalls, 1);
	end_dns(&loop, &dns);
}

static void
test_cache_answers_without_server(void **state)
{
	struct dns_fixture own = { 0 };
	struct outcome o = { 0 }, neg = { 0 };
	uv_loop_t loop;
	struct dns *dns;
	uint64_t hits, misses;

	(void)state;
	dns_fixture_start(&own, zone_text);
	dns = make_dns(&loop, own.port, QUERY_TIMEOUT_MS);
	(void)dns_query_mx(dns, "zone.example", on_result, &o);
	(void)dns_query_a(dns, "nope.zone.example", on_result, &neg);
	o.returned = neg.returned = true;
	loop_run_until(&loop, &o.called);
	loop_run_until(&loop, &neg.called);
	assert_int_equal(o.status, DNS_OK);
	assert_false(o.from_cache);
	assert_int_equal(neg.status, DNS_NXDOMAIN);
	dns_fixture_stop(&own);

	/* Same questions, the server gone: the cache answers, later. */
	memset(&o, 0, sizeof(o));
	memset(&neg, 0, sizeof(neg));
	(void)dns_query_mx(dns, "ZONE.example.", on_result, &o);
	(void)dns_query_a(dns, "nope.zone.example", on_result, &neg);
	assert_false(o.called);
	assert_false(neg.called);
	o.returned = neg.returned = true;
	loop_run_until(&loop, &o.called);
	loop_run_until(&loop, &neg.called);
	assert_int_equal(o.status, DNS_OK);
	assert_true(o.from_cache);
	assert_mx_list(o.desc);
	assert_true(o.ttl > 0 && o.ttl <= 300);
	assert_int_equal(neg.status, DNS_NXDOMAIN);
	assert_true(neg.from_cache);
	assert_true(neg.ttl > 0 && neg.ttl <= 60);
	dns_cache_stats(dns, &hits, &misses);
	assert_int_equal(hits, 2);
	assert_int_equal(misses, 2);

	/* Not cached: the server is gone, so this is a failure. */
	memset(&o, 0, sizeof(o));
	(void)dns_query_a(dns, "mx1.zone.example", on_result, &o);
	o.returned = true;
	loop_run_until(&loop, &o.called);
	assert_int_equal(o.status, DNS_TEMPFAIL);
	end_dns(&loop, &dns);
}

/* Ask name on dns and wait. */
static void
ask_on(uv_loop_t *loop, struct dns *dns, const char *name,
    struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	(void)dns_query_a(dns, name, on_result, o);
	o->returned = true;
	loop_run_until(loop, &o->called);
	assert_int_equal(o->status, DNS_OK);
}

static void
test_cache_honours_ttl_and_bound(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	uv_loop_t loop;
	struct dns *dns = make_dns_cache(&loop, f->dns.port, 2000, 2);

	/* TTL 1: gone from the cache after a second. */
	ask_on(&loop, dns, "short.zone.example", &o);
	assert_int_equal(o.ttl, 1);
	ask_on(&loop, dns, "short.zone.example", &o);
	assert_true(o.from_cache);
	loop_run_for(&loop, 1100);
	ask_on(&loop, dns, "short.zone.example", &o);
	assert_false(o.from_cache);

	/* Two entries at most: the least recently used one goes. */
	ask_on(&loop, dns, "n1.zone.example", &o);
	ask_on(&loop, dns, "n2.zone.example", &o);
	ask_on(&loop, dns, "n1.zone.example", &o);	/* n1 now newest */
	assert_true(o.from_cache);
	ask_on(&loop, dns, "n3.zone.example", &o);	/* evicts n2 */
	assert_false(o.from_cache);
	ask_on(&loop, dns, "n1.zone.example", &o);
	assert_true(o.from_cache);
	ask_on(&loop, dns, "n2.zone.example", &o);
	assert_false(o.from_cache);
	assert_string_equal(o.desc, "192.0.2.12");
	end_dns(&loop, &dns);
}

static void
test_cancel_means_no_callback(void **state)
{
	struct fixture *f = *state;
	struct outcome o[4] = { 0 }, warm = { 0 }, after = { 0 };
	struct dns_query *q[4];
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port, QUERY_TIMEOUT_MS);
	size_t i;

	/* Warm the cache so that one cancelled query is a cache hit. */
	(void)dns_query_a(dns, "mx1.zone.example", on_result, &warm);
	warm.returned = true;
	loop_run_until(&loop, &warm.called);

	q[0] = dns_query_a(dns, "slow.zone.example", on_result, &o[0]);
	q[1] = dns_query_mx(dns, "zone.example", on_result, &o[1]);
	q[2] = dns_query_a(dns, "mx1.zone.example", on_result, &o[2]);
	q[3] = dns_query_a(dns, "bad..name", on_result, &o[3]);
	assert_int_equal(dns_pending(dns), 4);
	for (i = 0; i < 4; i++) {
		assert_non_null(q[i]);
		dns_cancel(q[i]);
	}
	assert_int_equal(dns_pending(dns), 0);
	/* Past the timeout, and long enough for the real answers. */
	loop_run_for(&loop, QUERY_TIMEOUT_MS + 300);
	for (i = 0; i < 4; i++)
		assert_false(o[i].called);

	/* The resolver still works after cancellations. */
	(void)dns_query_txt(dns, "txt.zone.example", on_result, &after);
	after.returned = true;
	loop_run_until(&loop, &after.called);
	assert_int_equal(after.status, DNS_OK);

	/* Outstanding at dns_free: cancelled too. */
	memset(&o[0], 0, sizeof(o[0]));
	(void)dns_query_a(dns, "slow.zone.example", on_result, &o[0]);
	end_dns(&loop, &dns);
	assert_false(o[0].called);
}

struct free_in_cb {
	struct dns	**dns;
	struct outcome	 o;
	int		 other_calls;
	int		 after_free;
};

static void
on_result_free(const struct dns_result *res, void *ctx)
{
	struct free_in_cb *c = ctx;

	on_result(res, &c->o);
	dns_free(c->dns);
}

static void
on_result_other(const struct dns_result *res, void *ctx)
{
	struct free_in_cb *c = ctx;

	(void)res;
	c->other_calls++;
	if (*c->dns == NULL)
		c->after_free++;
}

static void
test_free_inside_callback(void **state)
{
	struct fixture *f = *state;
	struct free_in_cb c = { 0 };
	uv_loop_t loop;
	struct dns *dns = make_dns(&loop, f->dns.port, QUERY_TIMEOUT_MS);

	c.dns = &dns;
	(void)dns_query_a(dns, "mx1.zone.example", on_result_free, &c);
	(void)dns_query_a(dns, "slow.zone.example", on_result_other, &c);
	(void)dns_query_mx(dns, "zone.example", on_result_other, &c);
	c.o.returned = true;
	loop_run_until(&loop, &c.o.called);
	assert_null(dns);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	/* Queries still open when dns_free ran never call back. */
	assert_int_equal(c.after_free, 0);
	assert_true(c.other_calls <= 1);
}

static void
test_reverse_name_and_config(void **state)
{
	struct dns_config cfg = { .nforwarders = 1 };
	char buf[DNS_NAME_TEXT_MAX + 1], err[256];
	uv_loop_t loop;
	static const char *const bad_fwd[] = {
		"", "127.0.0.1:0", "127.0.0.1:65536", "localhost:53",
		"[::1", "[::1]x", "1.2.3.4:53x",
	};
	size_t i;

	(void)state;
	assert_int_equal(dns_reverse_name("192.0.2.1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name("1.2.3", buf, sizeof(buf)), -1);
	assert_int_equal(dns_reverse_name("192.0.2.1", buf, 10), -1);

	assert_int_equal(uv_loop_init(&loop), 0);
	for (i = 0; i < sizeof(bad_fwd) / sizeof(bad_fwd[0]); i++) {
		cfg.forwarders[0] = bad_fwd[i];
		assert_null(dns_new(&loop, &cfg, err, sizeof(err)));
		assert_non_null(strstr(err, "forwarder"));
	}
	cfg.forwarders[0] = "[::1]:5353";
	cfg.forwarders[1] = "::1";
	cfg.forwarders[2] = "192.0.2.53";
	cfg.nforwarders = 3;
	{
		struct dns *dns = dns_new(&loop, &cfg, err, sizeof(err));

		assert_non_null(dns);
		dns_free(&dns);
	}
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_sorted_by_preference),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_a_and_aaaa),
		cmocka_unit_test(test_txt_strings_concatenated),
		cmocka_unit_test(test_nxdomain_vs_nodata),
		cmocka_unit_test(test_cname_chain_followed),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_invalid_input_permfail),
		cmocka_unit_test(test_odd_octets_are_queried),
		cmocka_unit_test(test_servfail_is_tempfail),
		cmocka_unit_test(test_timeout_is_tempfail_in_time),
		cmocka_unit_test(test_cache_answers_without_server),
		cmocka_unit_test(test_cache_honours_ttl_and_bound),
		cmocka_unit_test(test_cancel_means_no_callback),
		cmocka_unit_test(test_free_inside_callback),
		cmocka_unit_test(test_reverse_name_and_config),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
