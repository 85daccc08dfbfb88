/* test_screen_rules: the compiled screening rules (screen_rules.h):
 * each pattern kind, allow-beats-deny, service and domain scoping,
 * shadow rules, verdict merging, and 100,000 random rules checked
 * against a brute-force matcher; plus the table side (store_screen.h):
 * validation, import and loading through a temporary store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "screen_rules.h"
#include "store.h"
#include "store_screen.h"

#define SMTP	SCREEN_SVC_SMTP
#define ALL	SCREEN_SVC_ALL

static void
add(struct screen_rules *set, enum screen_action a, enum screen_kind k,
    const char *pattern, unsigned svc, const char *domain, bool shadow,
    int64_t id)
{
	const char *err = NULL;

	if (screen_rules_add(set, a, k, pattern, svc, domain, shadow, id,
	    &err) < 0)
		fail_msg("add %s: %s", pattern, err);
}

static void
deny(struct screen_rules *set, enum screen_kind k, const char *pattern,
    int64_t id)
{
	add(set, SCREEN_DENY, k, pattern, ALL, NULL, false, id);
}

static enum screen_action
ip(const struct screen_rules *set, const char *addr, int64_t *id_r)
{
	struct screen_verdict v;
	enum screen_action a = screen_match_ip(set, SMTP, NULL, addr, &v);

	*id_r = a != SCREEN_NONE ? v.rule.id : 0;
	return a;
}

static int64_t
ip_id(const struct screen_rules *set, const char *addr)
{
	int64_t id;

	(void)ip(set, addr, &id);
	return id;
}

static int64_t
host_id(const struct screen_rules *set, const char *name)
{
	struct screen_verdict v;

	if (screen_match_host(set, SMTP, NULL, name, &v) == SCREEN_NONE)
		return 0;
	return v.rule.id;
}

static int64_t
helo_id(const struct screen_rules *set, const char *name)
{
	struct screen_verdict v;

	if (screen_match_helo(set, SMTP, NULL, name, &v) == SCREEN_NONE)
		return 0;
	return v.rule.id;
}

static int64_t
sender_id(const struct screen_rules *set, const char *addr)
{
	struct screen_verdict v;

	if (screen_match_sender(set, SMTP, NULL, addr, &v) == SCREEN_NONE)
		return 0;
	return v.rule.id;
}

static int64_t
rcpt_id(const struct screen_rules *set, const char *addr)
{
	struct screen_verdict v;

	if (screen_match_rcpt(set, SMTP, NULL, addr, &v) == SCREEN_NONE)
		return 0;
	return v.rule.id;
}

static void
test_ip_v4(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct screen_verdict v;
	char text[SCREEN_HIT_TEXT_MAX];

	(void)state;
	deny(set, SCREEN_KIND_IP, "192.0.2.0/24", 1);
	deny(set, SCREEN_KIND_IP, "198.51.100.7", 2);
	deny(set, SCREEN_KIND_IP, "203.0.113.77/25", 3);	/* host bits */
	assert_int_equal(screen_rules_count(set), 3);
	assert_int_equal(ip_id(set, "192.0.2.0"), 1);
	assert_int_equal(ip_id(set, "192.0.2.255"), 1);
	assert_int_equal(ip_id(set, "192.0.3.0"), 0);
	assert_int_equal(ip_id(set, "198.51.100.7"), 2);
	assert_int_equal(ip_id(set, "198.51.100.8"), 0);
	assert_int_equal(ip_id(set, "203.0.113.1"), 3);
	assert_int_equal(ip_id(set, "203.0.113.128"), 0);
	/* IPv4-mapped IPv6 matches IPv4 rules */
	assert_int_equal(ip_id(set, "::ffff:192.0.2.9"), 1);
	assert_int_equal(ip_id(set, "::FFFF:198.51.100.7"), 2);
	/* not addresses */
	assert_int_equal(ip_id(set, "192.0.2.1/32"), 0);
	assert_int_equal(ip_id(set, "mail.example"), 0);
	assert_int_equal(ip_id(set, ""), 0);

	assert_int_equal(screen_match_ip(set, SMTP, NULL, "192.0.2.1", &v),
	    SCREEN_DENY);
	assert_int_equal(v.rule.kind, SCREEN_KIND_IP);
	assert_string_equal(v.rule.pattern, "192.0.2.0/24");
	assert_false(v.rule.shadow);
	screen_hit_format(&v.rule, text, sizeof(text));
	assert_string_equal(text, "deny ip 192.0.2.0/24 #1");
	screen_rules_free(&set);
	assert_null(set);
}

static void
test_ip_v6_and_zero(void **state)
{
	struct screen_rules *set = screen_rules_new();

	(void)state;
	deny(set, SCREEN_KIND_IP, "2001:DB8::/32", 1);
	deny(set, SCREEN_KIND_IP, "2001:db8:1::5", 2);
	assert_int_equal(ip_id(set, "2001:db8:ffff::1"), 1);
	assert_int_equal(ip_id(set, "2001:db8:1::5"), 1);	/* lowest id */
	assert_int_equal(ip_id(set, "2001:db9::1"), 0);
	assert_int_equal(ip_id(set, "192.0.2.1"), 0);
	/* a v4 /0 is every IPv4 address, and no IPv6 one */
	deny(set, SCREEN_KIND_IP, "0.0.0.0/0", 3);
	assert_int_equal(ip_id(set, "10.1.2.3"), 3);
	assert_int_equal(ip_id(set, "::ffff:10.1.2.3"), 3);
	assert_int_equal(ip_id(set, "2002::1"), 0);
	deny(set, SCREEN_KIND_IP, "::/0", 4);
	assert_int_equal(ip_id(set, "2002::1"), 4);
	assert_int_equal(ip_id(set, "2001:db8::1"), 1);
	screen_rules_free(&set);
}

static void
test_host(void **state)
{
	struct screen_rules *set = screen_rules_new();

	(void)state;
	deny(set, SCREEN_KIND_HOST, "Mail.Example.ORG", 1);
	deny(set, SCREEN_KIND_HOST, "*.example.net", 2);
	deny(set, SCREEN_KIND_HOST, "mx?.foo.test", 3);
	deny(set, SCREEN_KIND_HOST, "*dsl*.isp.test", 4);
	assert_int_equal(host_id(set, "mail.example.org"), 1);
	assert_int_equal(host_id(set, "MAIL.EXAMPLE.ORG"), 1);
	assert_int_equal(host_id(set, "mail.example.org."), 1);
	assert_int_equal(host_id(set, "x.mail.example.org"), 0);
	assert_int_equal(host_id(set, "a.example.net"), 2);
	assert_int_equal(host_id(set, "A.B.Example.Net"), 2);
	assert_int_equal(host_id(set, "example.net"), 0);
	assert_int_equal(host_id(set, "badexample.net"), 0);
	assert_int_equal(host_id(set, "example.net.evil.test"), 0);
	assert_int_equal(host_id(set, "mx1.foo.test"), 3);
	assert_int_equal(host_id(set, "MX9.FOO.TEST"), 3);
	assert_int_equal(host_id(set, "mx12.foo.test"), 0);
	assert_int_equal(host_id(set, "mx.foo.test"), 0);
	assert_int_equal(host_id(set, "host-dsl-7.isp.test"), 4);
	assert_int_equal(host_id(set, "dsl.isp.test"), 4);
	assert_int_equal(host_id(set, "cable.isp.test"), 0);
	assert_int_equal(host_id(set, ""), 0);
	/* host rules are not helo rules */
	assert_int_equal(helo_id(set, "mail.example.org"), 0);
	screen_rules_free(&set);
}

static void
test_helo(void **state)
{
	struct screen_rules *set = screen_rules_new();

	(void)state;
	deny(set, SCREEN_KIND_HELO, "localhost", 1);
	deny(set, SCREEN_KIND_HELO, "*.example.net", 2);
	deny(set, SCREEN_KIND_HELO, "[192.0.2.1]", 3);
	deny(set, SCREEN_KIND_HELO, "win-*", 4);
	assert_int_equal(helo_id(set, "LocalHost"), 1);
	assert_int_equal(helo_id(set, "localhost.localdomain"), 0);
	assert_int_equal(helo_id(set, "smtp.example.net"), 2);
	assert_int_equal(helo_id(set, "example.net"), 0);
	assert_int_equal(helo_id(set, "[192.0.2.1]"), 3);
	assert_int_equal(helo_id(set, "WIN-ABC123"), 4);
	assert_int_equal(helo_id(set, "twin-abc"), 0);
	assert_int_equal(host_id(set, "localhost"), 0);
	screen_rules_free(&set);
}

static void
test_sender_rcpt(void **state)
{
	struct screen_rules *set = screen_rules_new();

	(void)state;
	deny(set, SCREEN_KIND_SENDER, "Spammer@Example.COM", 1);
	deny(set, SCREEN_KIND_SENDER, "@bulk.test", 2);
	deny(set, SCREEN_KIND_SENDER, "junk.test", 3);
	deny(set, SCREEN_KIND_SENDER, "*@*.sub.test", 4);
	deny(set, SCREEN_KIND_SENDER, "*.other.test", 5);
	deny(set, SCREEN_KIND_SENDER, "bounce-*@lists.test", 6);
	deny(set, SCREEN_KIND_SENDER, "*@example.org", 7);
	deny(set, SCREEN_KIND_SENDER, "mx?.glob.test", 8);
	assert_int_equal(sender_id(set, "spammer@example.com"), 1);
	assert_int_equal(sender_id(set, "SPAMMER@EXAMPLE.COM"), 1);
	assert_int_equal(sender_id(set, "other@example.com"), 0);
	assert_int_equal(sender_id(set, "a@bulk.test"), 2);
	assert_int_equal(sender_id(set, "a@x.bulk.test"), 0);
	assert_int_equal(sender_id(set, "Anyone@JUNK.test"), 3);
	assert_int_equal(sender_id(set, "a@sub.test"), 0);
	assert_int_equal(sender_id(set, "a@x.sub.test"), 4);
	assert_int_equal(sender_id(set, "a@x.y.SUB.test"), 4);
	assert_int_equal(sender_id(set, "a@other.test"), 0);
	assert_int_equal(sender_id(set, "a@m.other.test"), 5);
	assert_int_equal(sender_id(set, "bounce-123@lists.test"), 6);
	assert_int_equal(sender_id(set, "Bounce-X@Lists.Test"), 6);
	assert_int_equal(sender_id(set, "list@lists.test"), 0);
	assert_int_equal(sender_id(set, "x@example.org"), 7);
	assert_int_equal(sender_id(set, "x@mx1.glob.test"), 8);
	assert_int_equal(sender_id(set, "x@mx12.glob.test"), 0);
	/* the null sender and a bare local part match no domain rule */
	assert_int_equal(sender_id(set, ""), 0);
	assert_int_equal(sender_id(set, "junk.test"), 0);
	/* sender rules are not rcpt rules */
	assert_int_equal(rcpt_id(set, "spammer@example.com"), 0);
	deny(set, SCREEN_KIND_RCPT, "abuse@example.org", 9);
	deny(set, SCREEN_KIND_RCPT, "*", 10);
	assert_int_equal(rcpt_id(set, "abuse@example.org"), 9);
	assert_int_equal(rcpt_id(set, "anyone@anywhere.test"), 10);
	/* a bare local part has no domain for a domain glob to match */
	assert_int_equal(rcpt_id(set, "postmaster"), 0);
	deny(set, SCREEN_KIND_RCPT, "post*@*", 11);
	assert_int_equal(rcpt_id(set, "postmaster"), 0);
	assert_int_equal(rcpt_id(set, "postmaster@x.test"), 10);
	assert_int_equal(sender_id(set, "abuse@example.org"), 7);
	screen_rules_free(&set);
}

static void
test_bad_patterns(void **state)
{
	struct screen_rules *set = screen_rules_new();
	const char *err = NULL;

	(void)state;
	assert_int_equal(screen_rules_add(set, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.0/33", ALL, NULL, false, 1, &err), -1);
	assert_non_null(err);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY, SCREEN_KIND_IP,
	    "*.example", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY, SCREEN_KIND_HOST,
	    "bad name", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY, SCREEN_KIND_HOST,
	    "", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY,
	    SCREEN_KIND_SENDER, "a@b@c", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY,
	    SCREEN_KIND_SENDER, "user@", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY,
	    SCREEN_KIND_SENDER, "<a@b>", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_NONE, SCREEN_KIND_IP,
	    "192.0.2.1", ALL, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_add(set, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.1", 0, NULL, false, 1, &err), -1);
	assert_int_equal(screen_rules_count(set), 0);
	screen_rules_free(&set);
}

static void
test_allow_beats_deny(void **state)
{
	struct screen_rules *set = screen_rules_new();
	int64_t id;

	(void)state;
	deny(set, SCREEN_KIND_IP, "10.0.0.0/8", 1);
	add(set, SCREEN_ALLOW, SCREEN_KIND_IP, "10.1.2.3", ALL, NULL, false, 2);
	/* an allow with a higher id and a shorter prefix still wins */
	deny(set, SCREEN_KIND_IP, "172.16.5.5", 3);
	add(set, SCREEN_ALLOW, SCREEN_KIND_IP, "172.16.0.0/12", ALL, NULL,
	    false, 4);
	assert_int_equal(ip(set, "10.1.2.3", &id), SCREEN_ALLOW);
	assert_int_equal(id, 2);
	assert_int_equal(ip(set, "10.1.2.4", &id), SCREEN_DENY);
	assert_int_equal(id, 1);
	assert_int_equal(ip(set, "172.16.5.5", &id), SCREEN_ALLOW);
	assert_int_equal(id, 4);
	assert_int_equal(ip(set, "11.0.0.1", &id), SCREEN_NONE);
	screen_rules_free(&set);
}

static void
test_services(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct screen_verdict v;
	unsigned mask;
	char buf[SCREEN_SERVICES_MAX];

	(void)state;
	add(set, SCREEN_DENY, SCREEN_KIND_IP, "192.0.2.0/24",
	    SCREEN_SVC_IMAP | SCREEN_SVC_POP3, NULL, false, 1);
	add(set, SCREEN_ALLOW, SCREEN_KIND_IP, "192.0.2.1", SCREEN_SVC_POP3,
	    NULL, false, 2);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_SMTP, NULL,
	    "192.0.2.1", &v), SCREEN_NONE);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_IMAP, NULL,
	    "192.0.2.1", &v), SCREEN_DENY);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_POP3, NULL,
	    "192.0.2.1", &v), SCREEN_ALLOW);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_WEB, NULL,
	    "192.0.2.1", &v), SCREEN_NONE);

	assert_int_equal(screen_services_parse("*", &mask), 0);
	assert_int_equal(mask, SCREEN_SVC_ALL);
	assert_int_equal(screen_services_parse("POP3,smtp", &mask), 0);
	assert_int_equal(mask, SCREEN_SVC_SMTP | SCREEN_SVC_POP3);
	screen_services_format(mask, buf, sizeof(buf));
	assert_string_equal(buf, "smtp,pop3");
	assert_int_equal(screen_services_parse("smtp,", &mask), -1);
	assert_int_equal(screen_services_parse("smtp,ftp", &mask), -1);
	assert_int_equal(screen_services_parse("", &mask), -1);
	assert_int_equal(screen_services_parse(",smtp", &mask), -1);
	screen_rules_free(&set);
}

static void
test_domain_scope(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct screen_verdict v;

	(void)state;
	add(set, SCREEN_DENY, SCREEN_KIND_SENDER, "@spam.test", ALL,
	    "Example.Test", false, 1);
	add(set, SCREEN_DENY, SCREEN_KIND_SENDER, "@evil.test", ALL, NULL,
	    false, 2);
	assert_int_equal(screen_match_sender(set, SMTP, NULL, "a@spam.test",
	    &v), SCREEN_NONE);
	assert_int_equal(screen_match_sender(set, SMTP, "example.test",
	    "a@spam.test", &v), SCREEN_DENY);
	assert_string_equal(v.rule.domain, "example.test");
	assert_int_equal(screen_match_sender(set, SMTP, "EXAMPLE.TEST",
	    "a@spam.test", &v), SCREEN_DENY);
	assert_int_equal(screen_match_sender(set, SMTP, "other.test",
	    "a@spam.test", &v), SCREEN_NONE);
	/* global rules apply in every scope */
	assert_int_equal(screen_match_sender(set, SMTP, NULL, "a@evil.test",
	    &v), SCREEN_DENY);
	assert_int_equal(screen_match_sender(set, SMTP, "other.test",
	    "a@evil.test", &v), SCREEN_DENY);
	assert_string_equal(v.rule.domain, "");
	screen_rules_free(&set);
}

static void
test_shadow(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct screen_verdict v;
	char text[SCREEN_HIT_TEXT_MAX];

	(void)state;
	/* shadow deny alone: no verdict, but "would have refused" */
	add(set, SCREEN_DENY, SCREEN_KIND_IP, "192.0.2.0/24", ALL, NULL, true,
	    1);
	assert_int_equal(screen_match_ip(set, SMTP, NULL, "192.0.2.1", &v),
	    SCREEN_NONE);
	assert_int_equal(v.shadow_action, SCREEN_DENY);
	assert_int_equal(v.shadow_rule.id, 1);
	assert_true(v.shadow_rule.shadow);
	screen_hit_format(&v.shadow_rule, text, sizeof(text));
	assert_string_equal(text, "deny ip 192.0.2.0/24 #1 shadow");

	/* an enforced deny stays; a shadow allow would have let it in */
	deny(set, SCREEN_KIND_IP, "198.51.100.0/24", 2);
	add(set, SCREEN_ALLOW, SCREEN_KIND_IP, "198.51.100.9", ALL, NULL, true,
	    3);
	assert_int_equal(screen_match_ip(set, SMTP, NULL, "198.51.100.9", &v),
	    SCREEN_DENY);
	assert_int_equal(v.rule.id, 2);
	assert_int_equal(v.shadow_action, SCREEN_ALLOW);
	assert_int_equal(v.shadow_rule.id, 3);
	assert_int_equal(screen_match_ip(set, SMTP, NULL, "198.51.100.8", &v),
	    SCREEN_DENY);
	assert_int_equal(v.shadow_action, SCREEN_NONE);

	/* an enforced allow: shadow rules change nothing */
	add(set, SCREEN_ALLOW, SCREEN_KIND_IP, "192.0.2.7", ALL, NULL, false,
	    4);
	assert_int_equal(screen_match_ip(set, SMTP, NULL, "192.0.2.7", &v),
	    SCREEN_ALLOW);
	assert_int_equal(v.shadow_action, SCREEN_NONE);

	/* enforced deny and shadow deny: nothing to report */
	deny(set, SCREEN_KIND_IP, "192.0.2.8", 5);
	assert_int_equal(screen_match_ip(set, SMTP, NULL, "192.0.2.8", &v),
	    SCREEN_DENY);
	assert_int_equal(v.rule.id, 5);
	assert_int_equal(v.shadow_action, SCREEN_NONE);
	screen_rules_free(&set);
}

static void
test_merge(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct screen_verdict all, v;

	(void)state;
	deny(set, SCREEN_KIND_IP, "192.0.2.0/24", 1);
	add(set, SCREEN_ALLOW, SCREEN_KIND_SENDER, "friend@example.org", ALL,
	    NULL, false, 2);
	add(set, SCREEN_DENY, SCREEN_KIND_HELO, "*.bad.test", ALL, NULL, true,
	    3);

	/* ip deny + sender allow: allow */
	memset(&all, 0, sizeof(all));
	(void)screen_match_ip(set, SMTP, NULL, "192.0.2.1", &v);
	screen_verdict_merge(&all, &v);
	assert_int_equal(all.action, SCREEN_DENY);
	(void)screen_match_sender(set, SMTP, NULL, "friend@example.org", &v);
	screen_verdict_merge(&all, &v);
	assert_int_equal(all.action, SCREEN_ALLOW);
	assert_int_equal(all.rule.id, 2);
	assert_int_equal(all.shadow_action, SCREEN_NONE);

	/* nothing enforced, a shadow helo deny: reported */
	memset(&all, 0, sizeof(all));
	(void)screen_match_ip(set, SMTP, NULL, "203.0.113.1", &v);
	screen_verdict_merge(&all, &v);
	(void)screen_match_helo(set, SMTP, NULL, "x.bad.test", &v);
	assert_int_equal(v.shadow_action, SCREEN_DENY);
	screen_verdict_merge(&all, &v);
	assert_int_equal(all.action, SCREEN_NONE);
	assert_int_equal(all.shadow_action, SCREEN_DENY);
	assert_int_equal(all.shadow_rule.id, 3);

	/* enforced ip deny with the shadow deny: no shadow report */
	(void)screen_match_ip(set, SMTP, NULL, "192.0.2.1", &v);
	screen_verdict_merge(&all, &v);
	assert_int_equal(all.action, SCREEN_DENY);
	assert_int_equal(all.shadow_action, SCREEN_NONE);
	screen_rules_free(&set);
}

static void
test_null_set(void **state)
{
	struct screen_verdict v;

	(void)state;
	assert_int_equal(screen_match_ip(NULL, SMTP, NULL, "192.0.2.1", &v),
	    SCREEN_NONE);
	assert_int_equal(screen_match_host(NULL, SMTP, NULL, "a.test", &v),
	    SCREEN_NONE);
	assert_int_equal(screen_match_rcpt(NULL, SMTP, NULL, "a@b.test", &v),
	    SCREEN_NONE);
	assert_int_equal(v.shadow_action, SCREEN_NONE);
	assert_int_equal(screen_rules_count(NULL), 0);
}

/*
 * 100,000 random rules against a brute-force matcher
 */

#define RANDOM_CIDRS	70000
#define RANDOM_HOSTS	30000
#define RANDOM_QUERIES	1000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic, good enough to spread addresses */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct rnd_rule {
	struct cidr	 c;
	char		 name[64];	/* hosts: the name or suffix */
	bool		 wild;		/* hosts: "*.name" */
};

static bool
brute_ip(const struct cidr *c, int family, const uint8_t *addr)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	uint8_t mask;

	if (c->family != family || memcmp(addr, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (addr[full] & mask) == c->addr[full];
}

static bool
brute_host(const struct rnd_rule *r, const char *name)
{
	size_t n = strlen(name), m = strlen(r->name);

	if (!r->wild)
		return strcmp(name, r->name) == 0;
	return n > m + 1 && strcmp(name + n - m, r->name) == 0 &&
	    name[n - m - 1] == '.';
}

static void
random_query_addr(const struct rnd_rule *rules, int *family, uint8_t *addr)
{
	const struct rnd_rule *r = &rules[rng() % RANDOM_CIDRS];
	unsigned i;

	/* Half inside a random rule's network, half anywhere. */
	*family = r->c.family;
	memcpy(addr, r->c.addr, 16);
	if (rng() % 2 == 0) {
		for (i = 0; i < 16; i++)
			addr[i] = (uint8_t)rng();
		if (*family == AF_INET)
			memset(addr + 4, 0, 12);
		return;
	}
	for (i = r->c.prefix; i < (*family == AF_INET ? 32u : 128u); i++)
		if (rng() & 1)
			addr[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

static void
test_random_100k(void **state)
{
	struct screen_rules *set = screen_rules_new();
	struct rnd_rule *rules = calloc(RANDOM_CIDRS + RANDOM_HOSTS,
	    sizeof(*rules));
	char text[INET6_ADDRSTRLEN + 8], name[128];
	uint8_t addr[16];
	int family, q, i, hits = 0, host_hits = 0;

	(void)state;
	assert_non_null(rules);
	for (i = 0; i < RANDOM_CIDRS; i++) {
		struct rnd_rule *r = &rules[i];
		unsigned prefix, j;

		memset(addr, 0, sizeof(addr));
		if (i % 4 != 3) {
			/* concentrated in 10/8 so that networks overlap */
			family = AF_INET;
			prefix = 8 + (unsigned)(rng() % 25);
			addr[0] = 10;
			for (j = 1; j < 4; j++)
				addr[j] = (uint8_t)rng();
		} else {
			family = AF_INET6;
			prefix = 16 + (unsigned)(rng() % 113);
			addr[0] = 0x20;
			addr[1] = 0x01;
			addr[2] = 0x0d;
			addr[3] = (uint8_t)(0xb8 + rng() % 2);
			for (j = 4; j < 16; j++)
				addr[j] = (uint8_t)rng();
		}
		assert_non_null(inet_ntop(family, addr, text, 64));
		assert_true(snprintf(text + strlen(text), 8, "/%u", prefix) >
		    0);
		assert_int_equal(cidr_parse(text, &r->c), 0);
		add(set, SCREEN_DENY, SCREEN_KIND_IP, text, ALL, NULL, false,
		    i + 1);
	}
	for (i = RANDOM_CIDRS; i < RANDOM_CIDRS + RANDOM_HOSTS; i++) {
		struct rnd_rule *r = &rules[i];

		r->wild = rng() % 2 == 0;
		assert_true(snprintf(r->name, sizeof(r->name),
		    "h%u.z%u.example", (unsigned)(rng() % 20000),
		    (unsigned)(rng() % 50)) > 0);
		if (r->wild)
			assert_true(snprintf(name, sizeof(name), "*.%s",
			    r->name) > 0);
		else
			assert_true(snprintf(name, sizeof(name), "%s",
			    r->name) > 0);
		deny(set, SCREEN_KIND_HOST, name, i + 1);
	}
	assert_int_equal(screen_rules_count(set), RANDOM_CIDRS +
	    RANDOM_HOSTS);

	for (q = 0; q < RANDOM_QUERIES; q++) {
		int64_t want = 0, got;

		random_query_addr(rules, &family, addr);
		for (i = 0; i < RANDOM_CIDRS; i++)
			if (brute_ip(&rules[i].c, family, addr)) {
				want = i + 1;
				break;
			}
		assert_non_null(inet_ntop(family, addr, text, sizeof(text)));
		got = ip_id(set, text);
		if (got != want)
			fail_msg("%s: matcher says #%lld, brute force #%lld",
			    text, (long long)got, (long long)want);
		hits += want != 0;
	}
	for (q = 0; q < RANDOM_QUERIES; q++) {
		int64_t want = 0, got;
		unsigned pick = (unsigned)(rng() % 4);

		/* the name itself, one below it, or a random one */
		if (pick == 3)
			assert_true(snprintf(name, sizeof(name),
			    "h%u.z%u.example", (unsigned)(rng() % 20000),
			    (unsigned)(rng() % 50)) > 0);
		else
			assert_true(snprintf(name, sizeof(name), "%s%s",
			    pick == 0 ? "" : "mx.", rules[RANDOM_CIDRS +
			    rng() % RANDOM_HOSTS].name) > 0);
		for (i = RANDOM_CIDRS; i < RANDOM_CIDRS + RANDOM_HOSTS; i++)
			if (brute_host(&rules[i], name)) {
				want = i + 1;
				break;
			}
		got = host_id(set, name);
		if (got != want)
			fail_msg("%s: matcher says #%lld, brute force #%lld",
			    name, (long long)got, (long long)want);
		host_hits += want != 0;
	}
	/* the queries did exercise both outcomes */
	assert_true(hits > RANDOM_QUERIES / 4 && hits < RANDOM_QUERIES);
	assert_true(host_hits > RANDOM_QUERIES / 4);
	free(rules);
	screen_rules_free(&set);
}

/*
 * The table: validation, import, loading
 */

struct fixture {
	char		 dir[64];
	struct store	*st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/moat-test-screen-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (store_open(f->dir, &f->st, &err) < 0)
		fail_msg("store_open: %s", err);
	if (store_domain_add(f->st, "example.test", &err) < 0)
		fail_msg("domain add: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	const char *names[] = { "moat.db", "moat.db-wal", "moat.db-shm" };
	char path[128];
	size_t i;

	store_close(&f->st);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		(void)unlink(path);	/* -wal/-shm may be gone already */
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static int
store_add(struct store *st, enum screen_action a, enum screen_kind k,
    const char *pattern, const char *domain, const char **err)
{
	struct screen_row row = {
		.action = a,
		.kind = k,
		.pattern = pattern,
		.services = ALL,
		.domain = domain,
	};

	return store_screen_add(st, &row, NULL, err);
}

static void
count_cb(void *ctx, const char *const *cols, int ncols)
{
	(void)cols;
	assert_int_equal(ncols, 8);
	(*(int *)ctx)++;
}

static int
count_rules(struct store *st)
{
	int n = 0;

	assert_int_equal(store_screen_list(st, NULL, NULL, count_cb, &n), 0);
	return n;
}

static void
test_store_add_del(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	unsigned n;

	assert_int_equal(store_add(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.77/24", NULL, &err), 0);
	/* stored canonical: the same network is the same rule */
	assert_int_equal(store_add(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.0/24", NULL, &err), -1);
	assert_string_equal(err, "rule exists");
	assert_int_equal(store_add(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.0/24", "nosuch.test", &err), -1);
	assert_string_equal(err, "no such domain");
	assert_int_equal(store_add(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.0/24", "Example.Test", &err), 0);
	assert_int_equal(store_add(f->st, SCREEN_ALLOW, SCREEN_KIND_HOST,
	    "bad host", NULL, &err), -1);
	assert_int_equal(count_rules(f->st), 2);
	assert_int_equal(store_screen_del(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.1/24", NULL, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_screen_del(f->st, SCREEN_DENY, SCREEN_KIND_IP,
	    "192.0.2.0/24", NULL, &n, &err), -1);
	assert_string_equal(err, "no such rule");
	assert_int_equal(store_screen_del_id(f->st, 999, &err), -1);
	assert_int_equal(count_rules(f->st), 1);
}

static void
test_store_import_load(void **state)
{
	struct fixture *f = *state;
	static const char good[] =
	    "# screening rules\n"
	    "\n"
	    "deny ip 192.0.2.0/24 # documentation net\n"
	    "allow ip 192.0.2.10 services=smtp,submission\n"
	    "  deny host *.dyn.example.net mode=shadow\n"
	    "deny sender @spam.test domain=example.test\r\n"
	    "deny rcpt abuse@example.test";
	static const char bad[] =
	    "deny ip 198.51.100.0/24\n"
	    "deny helo fine.example\n"
	    "deny ip not-an-address\n";
	struct screen_rules *set;
	struct screen_verdict v;
	const char *err = NULL;
	unsigned added, skipped;
	FILE *fp;

	fp = fmemopen((void *)good, sizeof(good) - 1, "r");
	assert_non_null(fp);
	if (store_screen_import(f->st, fp, &added, &skipped, &err) < 0)
		fail_msg("import: %s", err);
	fclose(fp);
	assert_int_equal(added, 5);
	assert_int_equal(skipped, 0);

	/* again: everything is already there */
	fp = fmemopen((void *)good, sizeof(good) - 1, "r");
	assert_non_null(fp);
	assert_int_equal(store_screen_import(f->st, fp, &added, &skipped,
	    &err), 0);
	fclose(fp);
	assert_int_equal(added, 0);
	assert_int_equal(skipped, 5);

	/* a bad line names itself and imports nothing */
	fp = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	assert_non_null(fp);
	assert_int_equal(store_screen_import(f->st, fp, &added, &skipped,
	    &err), -1);
	fclose(fp);
	assert_non_null(strstr(err, "line 3"));
	assert_int_equal(count_rules(f->st), 5);

	assert_int_equal(screen_rules_load(f->st, &set, &err), 0);
	assert_int_equal(screen_rules_count(set), 5);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_SMTP, NULL,
	    "192.0.2.10", &v), SCREEN_ALLOW);
	assert_int_equal(screen_match_ip(set, SCREEN_SVC_IMAP, NULL,
	    "192.0.2.10", &v), SCREEN_DENY);
	assert_int_equal(screen_match_host(set, SCREEN_SVC_SMTP, NULL,
	    "a.dyn.example.net", &v), SCREEN_NONE);
	assert_int_equal(v.shadow_action, SCREEN_DENY);
	assert_int_equal(screen_match_sender(set, SCREEN_SVC_SMTP,
	    "example.test", "x@spam.test", &v), SCREEN_DENY);
	assert_int_equal(screen_match_sender(set, SCREEN_SVC_SMTP, NULL,
	    "x@spam.test", &v), SCREEN_NONE);
	assert_int_equal(screen_match_rcpt(set, SCREEN_SVC_SMTP, NULL,
	    "Abuse@Example.Test", &v), SCREEN_DENY);
	screen_rules_free(&set);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_v4),
		cmocka_unit_test(test_ip_v6_and_zero),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_sender_rcpt),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_allow_beats_deny),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_domain_scope),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_null_set),
		cmocka_unit_test(test_random_100k),
		T(test_store_add_del),
		T(test_store_import_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
