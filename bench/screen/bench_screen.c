/* bench_screen: the connect-time cost of screening, screen_connect(), with
 * 100,000 static rules and 100,000 active counters, against the target of
 * 5 us per check. No peer program is measured: Postfix (postscreen,
 * smtpd_client_restrictions) and fail2ban have no comparable in-process
 * check to call, so the figures are absolute.
 *
 * The state is built the way moatd builds it: the shared map
 * (<data_dir>/screen.map, dyn_open) filled with dyn_ip_add and
 * dyn_ip_ban; the rules imported into the database in one transaction
 * (store_screen_import, what "moatctl screen import" does) and compiled
 * by screen_new(), as a worker does at start. config_defaults(), so
 * [dynamic] connections is off and the check counts nothing.
 *
 * Then screen_connect() for a mix of client addresses (absent from the
 * map, counted but not banned, banned, allow-listed by a rule, denied
 * by a rule), with a fresh struct trace per call freed after it: the
 * mean over all calls timed as one block, and the distribution from a
 * sample of individually timed calls. For context, the parts alone:
 * screen_match_ip, dyn_ip_key, dyn_ip_banned, the trace.
 *
 * Usage: bench_screen DATA_DIR [CALLS [SEED]]
 * DATA_DIR must exist and be empty; the caller removes it. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "config.h"
#include "dynscreen.h"
#include "log.h"
#include "screen.h"
#include "screen_rules.h"
#include "store.h"
#include "store_screen.h"
#include "trace.h"
#include "xalloc.h"

#define BENCH_TARGET_NS		5000.0	/* target per check */
#define BENCH_CALLS_DEFAULT	1000000UL
#define BENCH_SEED_DEFAULT	42
#define BENCH_SAMPLE		200000	/* individually timed calls */
#define BENCH_CONTEXT_CALLS	1000000UL

#define BENCH_IP_CAPACITY	262144
#define BENCH_ACCT_CAPACITY	16384
#define BENCH_COUNTERS		100000	/* distinct client keys */
#define BENCH_COUNTERS_V6	25000	/* of them IPv6 (/64 keys) */
#define BENCH_BANNED		10000	/* of them banned */

#define BENCH_RULES_V4		60000
#define BENCH_RULES_V6		20000
#define BENCH_RULES_HOST	10000
#define BENCH_RULES_SENDER	10000
#define BENCH_RULES		(BENCH_RULES_V4 + BENCH_RULES_V6 + \
				 BENCH_RULES_HOST + BENCH_RULES_SENDER)
#define BENCH_ALLOW_PERCENT	10	/* of the IP rules */

#define BENCH_ADDRS		65536	/* client addresses, cycled */
#define BENCH_IP_TEXT		INET6_ADDRSTRLEN

/* The kinds of client address in the mix, one fifth each. */
enum bench_class {
	CLASS_ABSENT = 0,	/* no counter, no rule */
	CLASS_COUNTED,		/* a counter, no ban, no rule */
	CLASS_BANNED,		/* a counter, an enforced ban, no rule */
	CLASS_ALLOWED,		/* inside an allow rule */
	CLASS_DENIED,		/* inside a deny rule only */
	CLASS_COUNT
};

static const char *const class_names[CLASS_COUNT] = {
	"absent", "counted", "banned", "allow-rule", "deny-rule",
};

/* What screen_connect must answer for each class. */
static const enum screen_result class_expect[CLASS_COUNT] = {
	SCREEN_PASS, SCREEN_PASS, SCREEN_REFUSE, SCREEN_ALLOWED,
	SCREEN_REFUSE,
};

/* An IP rule as generated: network, prefix, action. */
struct net_rule {
	int		 family;
	uint8_t		 addr[16];
	unsigned	 prefix;
	bool		 allow;
};

/* A counted client: its address text and whether it is banned. */
struct client {
	char		 ip[BENCH_IP_TEXT];
	bool		 banned;
};

struct client_addr {
	char		 ip[BENCH_IP_TEXT];
	enum bench_class class;
	struct dyn_ip	 key;
};

/* A set of 64-bit hashes (open addressing, 0 is empty) to keep the
 * generated keys and networks distinct. */
struct hset {
	uint64_t	*slot;
	size_t		 mask;
};

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng() % n);
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

static uint64_t
addr_hash(int family, const uint8_t *addr, unsigned prefix)
{
	uint64_t a = 0, b = 0, h;

	memcpy(&a, addr, 8);
	if (family == AF_INET6)
		memcpy(&b, addr + 8, 8);
	h = mix(mix(mix((uint64_t)family, a), b), prefix);
	return h != 0 ? h : 1;
}

static void
hset_init(struct hset *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
}

/* Add h: true if it was not there. */
static bool
hset_add(struct hset *s, uint64_t h)
{
	size_t i;

	for (i = h & s->mask; s->slot[i] != 0; i = (i + 1) & s->mask)
		if (s->slot[i] == h)
			return false;
	s->slot[i] = h;
	return true;
}

static bool
hset_has(const struct hset *s, uint64_t h)
{
	size_t i;

	for (i = h & s->mask; s->slot[i] != 0; i = (i + 1) & s->mask)
		if (s->slot[i] == h)
			return true;
	return false;
}

static void
hset_free(struct hset *s)
{
	free(s->slot);
	s->slot = NULL;
}

static double
now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		abort();
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		abort();
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static _Noreturn void
die(const char *what, const char *error)
{
	fprintf(stderr, "bench_screen: %s: %s\n", what, error);
	exit(1);
}

/* Random global-looking addresses: IPv4 anywhere but 0/8, 127/8 and
 * 224/3; IPv6 in 2000::/3, never the IPv4-mapped range. */
static void
random_addr(int family, uint8_t *addr)
{
	uint64_t a = rng(), b = rng();

	memset(addr, 0, 16);
	if (family == AF_INET) {
		memcpy(addr, &a, 4);
		addr[0] = (uint8_t)(1 + addr[0] % 223);
		if (addr[0] == 127)
			addr[0] = 128;
		return;
	}
	memcpy(addr, &a, 8);
	memcpy(addr + 8, &b, 8);
	addr[0] = (uint8_t)(0x20 | (addr[0] & 0x1f));
}

static void
mask_addr(uint8_t *addr, unsigned bytes, unsigned prefix)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (prefix - 8 * i)));
	}
}

static void
format_addr(int family, const uint8_t *addr, char *out)
{
	if (inet_ntop(family, addr, out, BENCH_IP_TEXT) == NULL)
		abort();
}

/* IPv4 prefix lengths as block lists carry them: mostly hosts and /24s,
 * some /16 to /31, a few /13 to /15 (each of those covers much). */
static unsigned
prefix4(void)
{
	unsigned r = rng_below(1000);

	if (r < 450)
		return 32;
	if (r < 700)
		return 24;
	if (r < 800)
		return 16 + rng_below(8);	/* 16..23 */
	if (r < 997)
		return 25 + rng_below(7);	/* 25..31 */
	return 13 + rng_below(3);		/* 13..15 */
}

/* IPv6: every nibble boundary from /20 to /64 (providers' and
 * subscribers' networks), some longer ones and hosts. */
static unsigned
prefix6(void)
{
	static const unsigned longer[] = { 80, 96, 112, 120, 128, 128 };
	unsigned r = rng_below(100);

	if (r < 75)
		return 20 + 4 * rng_below(12);	/* 20, 24, ..., 64 */
	return longer[rng_below(sizeof(longer) / sizeof(longer[0]))];
}

static void
make_net_rules(struct net_rule *nets, FILE *fp)
{
	char text[BENCH_IP_TEXT];
	struct hset seen;
	size_t i;

	hset_init(&seen, BENCH_RULES_V4 + BENCH_RULES_V6);
	for (i = 0; i < BENCH_RULES_V4 + BENCH_RULES_V6; i++) {
		struct net_rule *n = &nets[i];

		n->family = i < BENCH_RULES_V4 ? AF_INET : AF_INET6;
		do {
			random_addr(n->family, n->addr);
			n->prefix = n->family == AF_INET ? prefix4() :
			    prefix6();
			mask_addr(n->addr, n->family == AF_INET ? 4 : 16,
			    n->prefix);
		} while (!hset_add(&seen, addr_hash(n->family, n->addr,
		    n->prefix)));
		n->allow = rng_below(100) < BENCH_ALLOW_PERCENT;
		format_addr(n->family, n->addr, text);
		fprintf(fp, "%s ip %s/%u\n", n->allow ? "allow" : "deny",
		    text, n->prefix);
	}
	hset_free(&seen);
}

/* Host and sender rules: they cost screen_connect nothing, but they
 * are part of a real set of 100,000 (the same tables and bloom filter
 * hold them). */
static void
make_name_rules(FILE *fp)
{
	unsigned i;

	for (i = 0; i < BENCH_RULES_HOST; i++)
		if (i % 2 == 0)
			fprintf(fp, "deny host *.dyn%u.isp%u.example\n", i,
			    i % 97);
		else
			fprintf(fp, "deny host mail%u.bulk%u.example\n", i,
			    i % 89);
	for (i = 0; i < BENCH_RULES_SENDER; i++)
		if (i % 2 == 0)
			fprintf(fp, "deny sender *@spam%u.example\n", i);
		else
			fprintf(fp, "deny sender user%u@sender%u.example "
			    "services=smtp\n", i, i % 101);
}

/* 100,000 distinct keys with counters over the metrics the default
 * config counts; the first BENCH_BANNED get an enforced ban. */
static void
make_counters(struct dynscreen *d, const struct config *cfg,
    struct client *clients, struct hset *keys)
{
	static const enum dyn_ip_metric metrics[] = {
		DYN_UNKNOWN_RCPT, DYN_AUTH_FAIL, DYN_PROTO_ERROR, DYN_RELAY,
	};
	static const enum config_dyn windows[] = {
		DYNCFG_UNKNOWN_RCPT, DYNCFG_AUTH_FAIL, DYNCFG_PROTO_ERROR,
		DYNCFG_RELAY,
	};
	time_t now = time(NULL);
	uint8_t addr[16];
	struct dyn_ip k;
	unsigned i, m;
	int family;

	for (i = 0; i < BENCH_COUNTERS; i++) {
		family = i % 4 == 3 ? AF_INET6 : AF_INET;
		do {
			random_addr(family, addr);
			format_addr(family, addr, clients[i].ip);
			if (dyn_ip_key(clients[i].ip, cfg->aggregate_v4,
			    cfg->aggregate_v6, &k) < 0)
				die(clients[i].ip, "dyn_ip_key refused it");
		} while (!hset_add(keys, addr_hash(k.family, k.addr,
		    k.prefix)));
		m = rng_below(4);
		if (dyn_ip_add(d, &k, metrics[m], 1 + rng_below(5),
		    cfg->dyn[windows[m]].window, 0, now) == 0)
			die(clients[i].ip, "dyn_ip_add did not record it");
		clients[i].banned = i < BENCH_BANNED;
		if (clients[i].banned && dyn_ip_ban(d, &k, "auth_fail",
		    cfg->dyn[DYNCFG_AUTH_FAIL].limit, cfg->ban_time,
		    cfg->ban_max, false, now, NULL) != 1)
			die(clients[i].ip, "dyn_ip_ban did not place it");
	}
}

/* Counters still present after the inserts (none evicted). */
static unsigned
count_present(struct dynscreen *d, const struct config *cfg,
    const struct client *clients)
{
	time_t now = time(NULL);
	struct dyn_ip k;
	unsigned i, m, n = 0;

	for (i = 0; i < BENCH_COUNTERS; i++) {
		if (dyn_ip_key(clients[i].ip, cfg->aggregate_v4,
		    cfg->aggregate_v6, &k) < 0)
			abort();
		for (m = 0; m < DYN_IP_METRIC_COUNT; m++)
			if (dyn_ip_peek(d, &k, (enum dyn_ip_metric)m,
			    cfg->dyn[m].window, now) > 0) {
				n++;
				break;
			}
	}
	return n;
}

/* One candidate address of class c, or false to try again. */
static bool
pick_addr(enum bench_class c, const struct net_rule *nets,
    const struct client *clients, char *ip)
{
	uint8_t addr[16], host[16];
	const struct net_rule *n;
	unsigned i, bytes;
	int family;

	switch (c) {
	case CLASS_ABSENT:
		family = rng_below(4) == 3 ? AF_INET6 : AF_INET;
		random_addr(family, addr);
		format_addr(family, addr, ip);
		return true;
	case CLASS_COUNTED:
		i = BENCH_BANNED + rng_below(BENCH_COUNTERS - BENCH_BANNED);
		memcpy(ip, clients[i].ip, BENCH_IP_TEXT);
		return true;
	case CLASS_BANNED:
		memcpy(ip, clients[rng_below(BENCH_BANNED)].ip,
		    BENCH_IP_TEXT);
		return true;
	case CLASS_ALLOWED:
	case CLASS_DENIED:
		n = &nets[rng_below(BENCH_RULES_V4 + BENCH_RULES_V6)];
		if (n->allow != (c == CLASS_ALLOWED))
			return false;
		/* A random host inside the network. */
		bytes = n->family == AF_INET ? 4 : 16;
		random_addr(n->family, host);
		for (i = 0; i < bytes; i++) {
			uint8_t keep = 0;

			if (n->prefix >= 8 * (i + 1))
				keep = 0xff;
			else if (n->prefix > 8 * i)
				keep = (uint8_t)(0xff << (8 - (n->prefix -
				    8 * i)));
			addr[i] = (uint8_t)((n->addr[i] & keep) |
			    (host[i] & (uint8_t)~keep));
		}
		format_addr(n->family, addr, ip);
		return true;
	default:
		abort();
	}
}

/* What this address is, by the rules and the map alone. */
static bool
is_class(enum bench_class c, const char *ip, struct screen *sc,
    const struct screen_rules *rules, struct dynscreen *d,
    const struct config *cfg, const struct hset *keys)
{
	struct screen_verdict v;
	struct dyn_ip k;
	enum screen_action a;
	bool banned, counted;

	if (screen_trusted(sc, ip) || dyn_ip_key(ip, cfg->aggregate_v4,
	    cfg->aggregate_v6, &k) < 0)
		return false;
	a = screen_match_ip(rules, SCREEN_SVC_SMTP, NULL, ip, &v);
	if (v.shadow_action != SCREEN_NONE)
		return false;
	banned = dyn_ip_banned(d, &k, time(NULL), NULL);
	counted = hset_has(keys, addr_hash(k.family, k.addr, k.prefix));
	switch (c) {
	case CLASS_ABSENT:
		return a == SCREEN_NONE && !counted;
	case CLASS_COUNTED:
		return a == SCREEN_NONE && counted && !banned;
	case CLASS_BANNED:
		return a == SCREEN_NONE && banned;
	case CLASS_ALLOWED:
		return a == SCREEN_ALLOW;
	case CLASS_DENIED:
		return a == SCREEN_DENY && !banned;
	default:
		return false;
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n sorted values. */
static uint64_t
percentile(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	return v[i < n ? i : n - 1];
}

static enum screen_result
one_check(struct screen *sc, const char *ip)
{
	struct trace t = { 0 };
	struct screen_refusal r;
	enum screen_result res;

	res = screen_connect(sc, SERVICE_SMTP, ip, &t, &r);
	trace_free(&t);
	return res;
}

/* The mean of a pair of back-to-back clock reads: what each
 * individually timed call carries on top of its own cost. */
static double
clock_overhead_ns(void)
{
	uint64_t t0, t1, sum = 0;
	unsigned i;

	for (i = 0; i < 100000; i++) {
		t0 = now_ns();
		t1 = now_ns();
		sum += t1 - t0;
	}
	return (double)sum / 100000.0;
}

static void
print_row(const char *name, uint64_t *ns, size_t n)
{
	uint64_t sum = 0;
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		sum += ns[i];
	qsort(ns, n, sizeof(*ns), cmp_u64);
	printf("  %-11s %7zu %8.0f %7" PRIu64 " %7" PRIu64 " %7" PRIu64
	    " %8" PRIu64 "\n", name, n, (double)sum / (double)n,
	    percentile(ns, n, 50), percentile(ns, n, 99),
	    percentile(ns, n, 99.9), ns[n - 1]);
}

static void
setup_row(const char *label, double seconds)
{
	printf("  %-68s %8.1f\n", label, seconds * 1e3);
}

static void
context_row(const char *label, double ns)
{
	printf("  %-40s %6.0f\n", label, ns);
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	struct client *clients;
	struct client_addr *addrs;
	struct net_rule *nets;
	struct dynscreen *d = NULL;
	struct screen_rules *rules = NULL;
	struct screen *sc;
	struct store *st;
	struct hset keys;
	uv_loop_t loop;
	const char *error = NULL;
	char path[CONFIG_PATH_MAX + 32], label[128];
	unsigned long calls = BENCH_CALLS_DEFAULT, seed = BENCH_SEED_DEFAULT;
	unsigned long tally[SCREEN_ALLOWED + 1] = { 0 };
	unsigned added, skipped, present, tries;
	uint64_t *sample, *byclass[CLASS_COUNT], t0ns;
	size_t nclass[CLASS_COUNT] = { 0 };
	double t_all, t0, t_dyn, t_count, t_gen, t_import, t_new, t_load;
	double mean, p99, clock_ns, ctx;
	unsigned long i;
	volatile unsigned sink = 0;
	bool pass;
	FILE *fp;
	char *end;
	size_t j;
	int c;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: bench_screen DATA_DIR "
		    "[CALLS [SEED]]\n");
		return 2;
	}
	if (argc > 2) {
		errno = 0;
		calls = strtoul(argv[2], &end, 10);
		if (errno != 0 || *end != '\0' || calls < 1000 ||
		    calls > 1000000000UL) {
			fprintf(stderr, "bench_screen: CALLS: 1000 to "
			    "1000000000\n");
			return 2;
		}
	}
	if (argc > 3) {
		errno = 0;
		seed = strtoul(argv[3], &end, 10);
		if (errno != 0 || *end != '\0') {
			fprintf(stderr, "bench_screen: SEED: a number\n");
			return 2;
		}
	}
	rng_state = seed;
	log_init("bench", LOG_LEVEL_WARN);
	config_defaults(&cfg);
	if (snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", argv[1]) >=
	    (int)sizeof(cfg.data_dir))
		die(argv[1], "path too long");

	printf("moat screen_connect benchmark: %u rules (%u%% of the IP "
	    "rules allow), %u active counters\n", BENCH_RULES,
	    BENCH_ALLOW_PERCENT, BENCH_COUNTERS);
	printf("(no peer: Postfix and fail2ban have no comparable in-process "
	    "connect-time check; absolute numbers only)\n");
	fflush(stdout);

	/* ---- setup ---- */
	t_all = now_s();
	t0 = now_s();
	snprintf(path, sizeof(path), "%s/screen.map", cfg.data_dir);
	if (dyn_open(path, BENCH_IP_CAPACITY, BENCH_ACCT_CAPACITY, true, &d,
	    &error) < 0)
		die(path, error);
	t_dyn = now_s() - t0;

	t0 = now_s();
	clients = xcalloc(BENCH_COUNTERS, sizeof(*clients));
	hset_init(&keys, BENCH_COUNTERS);
	make_counters(d, &cfg, clients, &keys);
	t_count = now_s() - t0;
	present = count_present(d, &cfg, clients);
	if (present != BENCH_COUNTERS)
		die("counters", "some were evicted");

	t0 = now_s();
	snprintf(path, sizeof(path), "%s/rules.txt", cfg.data_dir);
	if ((fp = fopen(path, "w+")) == NULL)
		die(path, strerror(errno));
	nets = xcalloc(BENCH_RULES_V4 + BENCH_RULES_V6, sizeof(*nets));
	make_net_rules(nets, fp);
	make_name_rules(fp);
	if (fflush(fp) != 0 || fseek(fp, 0, SEEK_SET) != 0)
		die(path, strerror(errno));
	t_gen = now_s() - t0;

	t0 = now_s();
	if (store_open(cfg.data_dir, &st, &error) < 0)
		die("store_open", error);
	if (store_screen_import(st, fp, &added, &skipped, &error) < 0)
		die("store_screen_import", error);
	store_close(&st);
	fclose(fp);
	t_import = now_s() - t0;
	if (added != BENCH_RULES || skipped != 0) {
		fprintf(stderr, "bench_screen: imported %u rules, skipped %u, "
		    "want %u\n", added, skipped, BENCH_RULES);
		return 1;
	}

	if (uv_loop_init(&loop) != 0)
		die("uv_loop_init", "failed");
	t0 = now_s();
	sc = screen_new(&loop, &cfg, d);
	t_new = now_s() - t0;

	/* The same set again, for screen_match_ip alone and to check what
	 * screen_new loaded. */
	t0 = now_s();
	if (store_open(cfg.data_dir, &st, &error) < 0 ||
	    screen_rules_load(st, &rules, &error) < 0)
		die("screen_rules_load", error);
	store_close(&st);
	t_load = now_s() - t0;
	if (screen_rules_count(rules) != BENCH_RULES) {
		fprintf(stderr, "bench_screen: %zu rules compiled, want %u\n",
		    screen_rules_count(rules), BENCH_RULES);
		return 1;
	}

	/* The client addresses: one fifth of each class, shuffled. */
	addrs = xcalloc(BENCH_ADDRS, sizeof(*addrs));
	for (j = 0; j < BENCH_ADDRS; j++) {
		struct client_addr *a = &addrs[j];

		a->class = (enum bench_class)(j % CLASS_COUNT);
		tries = 0;
		do {
			if (++tries > 1000000)
				die(class_names[a->class], "no address of "
				    "that class found");
		} while (!pick_addr(a->class, nets, clients, a->ip) ||
		    !is_class(a->class, a->ip, sc, rules, d, &cfg, &keys));
		if (dyn_ip_key(a->ip, cfg.aggregate_v4, cfg.aggregate_v6,
		    &a->key) < 0)
			abort();
	}
	for (j = BENCH_ADDRS - 1; j > 0; j--) {
		size_t k = (size_t)rng_below((unsigned)j + 1);
		struct client_addr tmp = addrs[j];

		addrs[j] = addrs[k];
		addrs[k] = tmp;
	}
	/* Every address answers what its class says. */
	for (j = 0; j < BENCH_ADDRS; j++)
		if (one_check(sc, addrs[j].ip) != class_expect[addrs[j].class])
			die(addrs[j].ip, "screen_connect answered other than "
			    "its class says");
	t_all = now_s() - t_all;

	printf("setup (one-time, %.2f s in all), ms:\n", t_all);
	snprintf(label, sizeof(label), "dyn_open: %u IP slots, %u account "
	    "slots", BENCH_IP_CAPACITY, BENCH_ACCT_CAPACITY);
	setup_row(label, t_dyn);
	snprintf(label, sizeof(label), "%u counters (%u IPv4, %u IPv6 /64), "
	    "%u banned", BENCH_COUNTERS, BENCH_COUNTERS - BENCH_COUNTERS_V6,
	    BENCH_COUNTERS_V6, BENCH_BANNED);
	setup_row(label, t_count);
	snprintf(label, sizeof(label), "rule file: %u IPv4 + %u IPv6 CIDRs, "
	    "%u host, %u sender", BENCH_RULES_V4, BENCH_RULES_V6,
	    BENCH_RULES_HOST, BENCH_RULES_SENDER);
	setup_row(label, t_gen);
	setup_row("store_screen_import, one transaction", t_import);
	snprintf(label, sizeof(label), "screen_new: load + compile %u rules",
	    BENCH_RULES);
	setup_row(label, t_new);
	setup_row("screen_rules_load again (the same set)", t_load);
	printf("  %u client addresses, about %u of each class, each checked "
	    "once: all answer as their class says\n", BENCH_ADDRS,
	    BENCH_ADDRS / CLASS_COUNT);
	fflush(stdout);

	/* ---- the checks ---- */
	for (j = 0; j < BENCH_ADDRS; j++)	/* warm-up */
		(void)one_check(sc, addrs[j].ip);
	t0 = now_s();
	for (i = 0; i < calls; i++)
		tally[one_check(sc, addrs[i & (BENCH_ADDRS - 1)].ip)]++;
	mean = (now_s() - t0) * 1e9 / (double)calls;
	printf("screen_connect, %lu calls, a fresh trace per call:\n", calls);
	printf("  mean %.0f ns/check (pass %lu, refuse %lu, allowed %lu)\n",
	    mean, tally[SCREEN_PASS], tally[SCREEN_REFUSE],
	    tally[SCREEN_ALLOWED]);

	clock_ns = clock_overhead_ns();
	sample = xcalloc(BENCH_SAMPLE, sizeof(*sample));
	for (c = 0; c < CLASS_COUNT; c++)
		byclass[c] = xcalloc(BENCH_SAMPLE, sizeof(*byclass[c]));
	for (j = 0; j < BENCH_SAMPLE; j++) {
		const struct client_addr *a = &addrs[j & (BENCH_ADDRS - 1)];

		t0ns = now_ns();
		(void)one_check(sc, a->ip);
		sample[j] = now_ns() - t0ns;
		byclass[a->class][nclass[a->class]++] = sample[j];
	}
	printf("  %u individually timed calls, ns (a clock read pair, "
	    "%.0f ns, included):\n", BENCH_SAMPLE, clock_ns);
	printf("  %-11s %7s %8s %7s %7s %7s %8s\n", "class", "calls", "mean",
	    "p50", "p99", "p99.9", "max");
	for (c = 0; c < CLASS_COUNT; c++)
		print_row(class_names[c], byclass[c], nclass[c]);
	print_row("all", sample, BENCH_SAMPLE);	/* sorts sample */
	p99 = (double)percentile(sample, BENCH_SAMPLE, 99);

	/* ---- the parts alone ---- */
	printf("context, the parts alone (%lu calls each, ns/call):\n",
	    BENCH_CONTEXT_CALLS);
	t0 = now_s();
	for (i = 0; i < BENCH_CONTEXT_CALLS; i++) {
		struct screen_verdict v;

		sink += screen_match_ip(rules, SCREEN_SVC_SMTP, NULL,
		    addrs[i & (BENCH_ADDRS - 1)].ip, &v);
	}
	ctx = (now_s() - t0) * 1e9 / (double)BENCH_CONTEXT_CALLS;
	snprintf(label, sizeof(label), "screen_match_ip (%u rules)",
	    BENCH_RULES);
	context_row(label, ctx);
	t0 = now_s();
	for (i = 0; i < BENCH_CONTEXT_CALLS; i++) {
		struct dyn_ip k;

		sink += (unsigned)dyn_ip_key(addrs[i & (BENCH_ADDRS - 1)].ip,
		    cfg.aggregate_v4, cfg.aggregate_v6, &k);
	}
	ctx = (now_s() - t0) * 1e9 / (double)BENCH_CONTEXT_CALLS;
	context_row("dyn_ip_key (parse the address)", ctx);
	t0 = now_s();
	for (i = 0; i < BENCH_CONTEXT_CALLS; i++) {
		struct dyn_ban ban;
		time_t now = time(NULL);

		sink += dyn_ip_banned(d, &addrs[i & (BENCH_ADDRS - 1)].key,
		    now, &ban);
	}
	ctx = (now_s() - t0) * 1e9 / (double)BENCH_CONTEXT_CALLS;
	snprintf(label, sizeof(label), "dyn_ip_banned (%u counters)",
	    BENCH_COUNTERS);
	context_row(label, ctx);
	t0 = now_s();
	for (i = 0; i < BENCH_CONTEXT_CALLS; i++) {
		struct trace t = { 0 };
		const char *ip = addrs[i & (BENCH_ADDRS - 1)].ip;

		trace_add(&t, "connect", "ip=%s service=%s", ip, "smtp");
		trace_add(&t, "ban", "%s not banned%s", ip, "");
		trace_add(&t, "ip-rule", "%s: no rule", ip);
		sink += (unsigned)t.len;
		trace_free(&t);
	}
	ctx = (now_s() - t0) * 1e9 / (double)BENCH_CONTEXT_CALLS;
	context_row("trace: 3 trace_add + trace_free", ctx);
	(void)sink;

	pass = mean < BENCH_TARGET_NS && p99 < BENCH_TARGET_NS;
	printf("target %.0f ns/check: mean %.0f ns (target/measured %.1fx), "
	    "p99 %.0f ns (%.1fx): %s\n", BENCH_TARGET_NS, mean,
	    BENCH_TARGET_NS / mean, p99, BENCH_TARGET_NS / p99,
	    pass ? "PASS" : "FAIL");

	screen_free(&sc);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	screen_rules_free(&rules);
	dyn_close(&d);
	for (c = 0; c < CLASS_COUNT; c++)
		free(byclass[c]);
	free(sample);
	free(addrs);
	free(nets);
	free(clients);
	hset_free(&keys);
	return pass ? 0 : 1;
}
