/* screen_rules: compiles screening rules into hash tables and answers
 * the per-connection questions of screen_rules.h. One open-addressing
 * table holds every hashable pattern under a typed key (a network at
 * one prefix length, an exact name, a "*.suffix" wildcard, an exact
 * address, an address domain); rules that share a key are chained.
 * Globs that fit none of those shapes are kept in a short list per
 * kind and scanned: they are rare, and a list keeps them simple. */
#include "screen_rules.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "hash.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#define NIL			UINT32_MAX	/* end of a chain */
#define SLOTS_MIN		64
#define NAME_MAX_LEN		255		/* a DNS name */
#define KEY_MAX			(2 + SCREEN_PATTERN_MAX)

/* key[0]; key[1] is the prefix length (networks) or the kind. */
enum key_type {
	KEY_IP4 = 1,	/* + prefix, 4 address bytes, host bits clear */
	KEY_IP6,	/* + prefix, 16 address bytes */
	KEY_EXACT,	/* + kind, name or address */
	KEY_SUFFIX,	/* + kind, "example.net" of "*.example.net" */
	KEY_DOMAIN,	/* + kind, the domain of "@example.net" */
};

struct srule {
	int64_t		 id;
	char		*pattern;	/* canonical text, as stored */
	char		*domain;	/* NULL: global */
	uint32_t	 next;		/* same key, or the glob list */
	uint16_t	 glob_off;	/* globs: where the glob starts */
	uint16_t	 lit_off;	/* globs: the longest literal run, */
	uint16_t	 lit_len;	/* which a subject must contain */
	uint8_t		 action;
	uint8_t		 kind;
	uint8_t		 services;
	bool		 shadow;
	bool		 on_domain;	/* glob of an address's domain */
};

/* The rules of one key, in four chains by standing (CLASS()), each
 * sorted by id: a match takes the first rule of a chain that applies
 * to its service and scope, so a thousand global rules on one network
 * cost one step, not a thousand. */
#define CLASS(shadow, deny)	((shadow) * 2 + (deny))
#define NCLASS			4

struct slot {
	uint64_t	 hash;
	uint8_t		*key;		/* NULL: free */
	uint32_t	 keylen;
	uint32_t	 head[NCLASS];
	uint32_t	 tail[NCLASS];
};

struct screen_rules {
	struct srule	*rules;
	size_t		 nrules;
	size_t		 caprules;
	struct slot	*slots;
	size_t		 nslots;	/* a power of two */
	size_t		 nused;
	/* One bit per hash, 8 bits per slot (16+ per key): most probes of
	 * a lookup find nothing, and this answers them from a table small
	 * enough to stay in cache instead of touching the slots. */
	uint64_t	*bloom;
	size_t		 nbloom;	/* bits, a power of two */
	uint32_t	 globs[SCREEN_KIND_COUNT];
	/* Prefix lengths that occur, longest first: a lookup masks the
	 * address once per length present, not once per rule. */
	uint8_t		 plen4[33];
	uint8_t		 plen6[129];
	unsigned	 n4;
	unsigned	 n6;
	/* The network mask of each prefix length over the 16 address
	 * bytes, as two words: masking is two ANDs. */
	uint64_t	 mask[129][2];
};

/* The best rule of each standing seen by one match. */
struct best {
	const struct srule *r[2][2];	/* [shadow][deny] */
};

/*
 * Hash table
 */

/* Eight bytes a step (a network key is two or three steps), then the
 * splitmix64 finalizer so that every input bit reaches the low bits
 * (slot index) and the high bits (bloom index). */
static uint64_t
key_hash(const uint8_t *key, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	while (len >= 8) {
		memcpy(&w, key, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 29;
		key += 8;
		len -= 8;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, key, len);
		h = (h ^ w) * 0x94d049bb133111ebULL;
		h ^= h >> 29;
	}
	return hash_mix64(h);
}

/* The hash of a network key without building the key: a lookup
 * hashes once per prefix length present and most of them miss in the
 * bloom filter. type is KEY_IP4 or KEY_IP6; w0, w1 the masked address
 * bytes as two words (IPv4: w1 = 0). */
static uint64_t
ip_hash(enum key_type type, unsigned prefix, uint64_t w0, uint64_t w1)
{
	uint64_t h = ((uint64_t)type << 8 | prefix) * 0x9e3779b97f4a7c15ULL;

	h = (h ^ w0) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 31;
	h = (h ^ w1) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

static size_t
ip_key(uint8_t *key, enum key_type type, unsigned prefix, uint64_t w0,
    uint64_t w1)
{
	key[0] = (uint8_t)type;
	key[1] = (uint8_t)prefix;
	memcpy(key + 2, &w0, 8);
	memcpy(key + 10, &w1, 8);
	return type == KEY_IP4 ? 2 + 4 : 2 + 16;
}

static struct slot *
slot_find(struct slot *slots, size_t nslots, uint64_t h, const uint8_t *key,
    size_t len)
{
	size_t mask = nslots - 1, i = (size_t)h & mask;

	for (;;) {
		struct slot *sl = &slots[i];

		if (sl->key == NULL || (sl->hash == h && sl->keylen == len &&
		    memcmp(sl->key, key, len) == 0))
			return sl;
		i = (i + 1) & mask;
	}
}

static size_t
bloom_bit(const struct screen_rules *set, uint64_t h)
{
	return (size_t)(h >> 32) & (set->nbloom - 1);
}

static void
bloom_set(struct screen_rules *set, uint64_t h)
{
	size_t b = bloom_bit(set, h);

	set->bloom[b / 64] |= UINT64_C(1) << (b % 64);
}

static bool
bloom_test(const struct screen_rules *set, uint64_t h)
{
	size_t b = bloom_bit(set, h);

	return (set->bloom[b / 64] & (UINT64_C(1) << (b % 64))) != 0;
}

/* Double the slots (rehashing by the stored hashes) and rebuild the
 * bloom filter at its new size. */
static void
table_grow(struct screen_rules *set)
{
	struct slot *old = set->slots, *sl;
	size_t oldn = set->nslots, i;

	set->nslots = oldn * 2;
	set->slots = xcalloc(set->nslots, sizeof(*set->slots));
	free(set->bloom);
	set->nbloom = set->nslots * 8;
	set->bloom = xcalloc(set->nbloom / 64, sizeof(*set->bloom));
	for (i = 0; i < oldn; i++) {
		if (old[i].key == NULL)
			continue;
		sl = slot_find(set->slots, set->nslots, old[i].hash,
		    old[i].key, old[i].keylen);
		*sl = old[i];
		bloom_set(set, old[i].hash);
	}
	free(old);
}

/* Chain rule idx under key (of hash h), in id order within its class.
 * Rules come from the table in id order, so this appends. */
static void
table_add_h(struct screen_rules *set, uint64_t h, const uint8_t *key,
    size_t len, uint32_t idx)
{
	struct srule *r = &set->rules[idx], *rules = set->rules;
	struct slot *sl;
	uint32_t *pp;
	unsigned c, i;

	/* At most half full: probes stay short. */
	if ((set->nused + 1) * 2 > set->nslots)
		table_grow(set);
	sl = slot_find(set->slots, set->nslots, h, key, len);
	if (sl->key == NULL) {
		sl->hash = h;
		sl->key = xmemdup(key, len);
		sl->keylen = (uint32_t)len;
		for (i = 0; i < NCLASS; i++)
			sl->head[i] = sl->tail[i] = NIL;
		set->nused++;
		bloom_set(set, h);
	}
	c = CLASS(r->shadow, r->action == SCREEN_DENY);
	r->next = NIL;
	if (sl->head[c] == NIL) {
		sl->head[c] = sl->tail[c] = idx;
		return;
	}
	if (rules[sl->tail[c]].id <= r->id) {
		rules[sl->tail[c]].next = idx;
		sl->tail[c] = idx;
		return;
	}
	for (pp = &sl->head[c]; rules[*pp].id <= r->id; pp = &rules[*pp].next)
		;
	r->next = *pp;
	*pp = idx;
}

static void
table_add(struct screen_rules *set, const uint8_t *key, size_t len,
    uint32_t idx)
{
	table_add_h(set, key_hash(key, len), key, len, idx);
}

static const struct slot *
table_get_h(const struct screen_rules *set, uint64_t h, const uint8_t *key,
    size_t len)
{
	const struct slot *sl;

	if (set->nused == 0 || !bloom_test(set, h))
		return NULL;
	sl = slot_find(set->slots, set->nslots, h, key, len);
	return sl->key != NULL ? sl : NULL;
}

static const struct slot *
table_get(const struct screen_rules *set, const uint8_t *key, size_t len)
{
	return table_get_h(set, key_hash(key, len), key, len);
}

/*
 * Building
 */

struct screen_rules *
screen_rules_new(void)
{
	struct screen_rules *set = xcalloc(1, sizeof(*set));
	uint8_t m[16];
	unsigned k, p, i;

	set->nslots = SLOTS_MIN;
	set->slots = xcalloc(set->nslots, sizeof(*set->slots));
	set->nbloom = set->nslots * 8;
	set->bloom = xcalloc(set->nbloom / 64, sizeof(*set->bloom));
	for (k = 0; k < SCREEN_KIND_COUNT; k++)
		set->globs[k] = NIL;
	for (p = 0; p <= 128; p++) {
		memset(m, 0, sizeof(m));
		for (i = 0; i < p; i++)
			m[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		memcpy(&set->mask[p][0], m, 8);
		memcpy(&set->mask[p][1], m + 8, 8);
	}
	return set;
}

void
screen_rules_free(struct screen_rules **setp)
{
	struct screen_rules *set = *setp;
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->nrules; i++) {
		free(set->rules[i].pattern);
		free(set->rules[i].domain);
	}
	for (i = 0; i < set->nslots; i++)
		free(set->slots[i].key);
	free(set->rules);
	free(set->slots);
	free(set->bloom);
	free(set);
	*setp = NULL;
}

size_t
screen_rules_count(const struct screen_rules *set)
{
	return set != NULL ? set->nrules : 0;
}

size_t
screen_rules_count_kind(const struct screen_rules *set, enum screen_kind kind)
{
	size_t i, n = 0;

	for (i = 0; set != NULL && i < set->nrules; i++)
		if (set->rules[i].kind == kind)
			n++;
	return n;
}

static bool
has_wild(const char *s)
{
	return strpbrk(s, "*?") != NULL;
}

/* Keep the prefix lengths present sorted longest first. */
static void
plen_note(uint8_t *list, unsigned *n, unsigned prefix)
{
	unsigned i, j;

	for (i = 0; i < *n && list[i] > prefix; i++)
		;
	if (i < *n && list[i] == prefix)
		return;
	for (j = *n; j > i; j--)
		list[j] = list[j - 1];
	list[i] = (uint8_t)prefix;
	(*n)++;
}

static size_t
text_key(uint8_t *key, enum key_type type, enum screen_kind kind,
    const char *s, size_t len)
{
	key[0] = (uint8_t)type;
	key[1] = (uint8_t)kind;
	memcpy(key + 2, s, len);
	return 2 + len;
}

static void
glob_add(struct screen_rules *set, uint32_t idx, size_t off, bool on_domain)
{
	struct srule *r = &set->rules[idx];

	const char *g = r->pattern + off;
	size_t i, run;

	r->glob_off = (uint16_t)off;
	r->on_domain = on_domain;
	/* Most subjects lack the glob's longest literal: a search rejects
	 * them before the backtracking matcher runs. */
	r->lit_len = 0;
	for (i = 0; g[i] != '\0'; i += run + 1) {
		run = strcspn(g + i, "*?");
		if (run > r->lit_len) {
			r->lit_off = (uint16_t)(off + i);
			r->lit_len = (uint16_t)run;
		}
		if (g[i + run] == '\0')
			break;
	}
	r->next = set->globs[r->kind];
	set->globs[r->kind] = idx;
}

/* A domain pattern of an address rule: "example.com", "*.example.com",
 * or a glob on the domain. off: where d starts in the pattern. */
static void
add_domain_pattern(struct screen_rules *set, uint32_t idx, const char *d,
    size_t off)
{
	uint8_t key[KEY_MAX];
	enum screen_kind kind = set->rules[idx].kind;

	if (!has_wild(d))
		table_add(set, key, text_key(key, KEY_DOMAIN, kind, d,
		    strlen(d)), idx);
	else if (strncmp(d, "*.", 2) == 0 && d[2] != '\0' && !has_wild(d + 2))
		table_add(set, key, text_key(key, KEY_SUFFIX, kind, d + 2,
		    strlen(d + 2)), idx);
	else
		glob_add(set, idx, off, true);
}

static int
compile(struct screen_rules *set, uint32_t idx, const char **error_r)
{
	struct srule *r = &set->rules[idx];
	uint8_t key[KEY_MAX];
	const char *p = r->pattern, *at;
	enum key_type type;
	uint64_t w0, w1;
	struct cidr c;
	size_t len;

	switch (r->kind) {
	case SCREEN_KIND_IP:
		if (cidr_parse(p, &c) < 0) {
			*error_r = "expected ADDR or ADDR/PREFIX";
			return -1;
		}
		type = c.family == AF_INET ? KEY_IP4 : KEY_IP6;
		memcpy(&w0, c.addr, 8);
		memcpy(&w1, c.addr + 8, 8);
		len = ip_key(key, type, c.prefix, w0, w1);
		table_add_h(set, ip_hash(type, c.prefix, w0, w1), key, len,
		    idx);
		if (c.family == AF_INET)
			plen_note(set->plen4, &set->n4, c.prefix);
		else
			plen_note(set->plen6, &set->n6, c.prefix);
		return 0;
	case SCREEN_KIND_HOST:
	case SCREEN_KIND_HELO:
		len = strlen(p);
		/* "example.net." is example.net */
		if (len > 1 && p[len - 1] == '.')
			r->pattern[--len] = '\0';
		if (!has_wild(p))
			table_add(set, key, text_key(key, KEY_EXACT, r->kind,
			    p, len), idx);
		else if (strncmp(p, "*.", 2) == 0 && p[2] != '\0' &&
		    !has_wild(p + 2))
			table_add(set, key, text_key(key, KEY_SUFFIX, r->kind,
			    p + 2, len - 2), idx);
		else
			glob_add(set, idx, 0, false);
		return 0;
	case SCREEN_KIND_SENDER:
	case SCREEN_KIND_RCPT:
		at = strchr(p, '@');
		if (at == NULL)
			add_domain_pattern(set, idx, p, 0);
		else if (at == p || (at == p + 1 && p[0] == '*'))
			add_domain_pattern(set, idx, at + 1,
			    (size_t)(at + 1 - p));
		else if (!has_wild(p))
			table_add(set, key, text_key(key, KEY_EXACT, r->kind,
			    p, strlen(p)), idx);
		else
			glob_add(set, idx, 0, false);
		return 0;
	default:
		*error_r = "unknown kind";
		return -1;
	}
}

int
screen_rules_add(struct screen_rules *set, enum screen_action action,
    enum screen_kind kind, const char *pattern, unsigned services,
    const char *domain, bool shadow, int64_t id, const char **error_r)
{
	char canon[SCREEN_PATTERN_MAX + 1];
	struct srule *r;
	uint32_t idx;

	if (action != SCREEN_ALLOW && action != SCREEN_DENY) {
		*error_r = "action must be allow or deny";
		return -1;
	}
	if ((unsigned)kind >= SCREEN_KIND_COUNT) {
		*error_r = "unknown kind";
		return -1;
	}
	if ((services & SCREEN_SVC_ALL) == 0) {
		*error_r = "no service";
		return -1;
	}
	/* The same syntax the store enforces: rules built by hand (tests,
	 * moatctl) get the same lower-case, canonical patterns. */
	if (screen_pattern_canon(kind, pattern, canon, sizeof(canon),
	    error_r) < 0)
		return -1;
	if (set->nrules >= NIL - 1) {
		*error_r = "too many rules";
		return -1;
	}
	if (set->nrules == set->caprules) {
		set->caprules = set->caprules ? set->caprules * 2 : 64;
		set->rules = xreallocarray(set->rules, set->caprules,
		    sizeof(*set->rules));
	}
	idx = (uint32_t)set->nrules;
	r = &set->rules[idx];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->pattern = xstrdup(canon);
	if (domain != NULL && domain[0] != '\0') {
		r->domain = xstrdup(domain);
		ascii_lower(r->domain);
	}
	r->next = NIL;
	r->action = (uint8_t)action;
	r->kind = (uint8_t)kind;
	r->services = (uint8_t)(services & SCREEN_SVC_ALL);
	r->shadow = shadow;
	set->nrules++;
	if (compile(set, idx, error_r) < 0) {
		set->nrules--;
		free(r->pattern);
		free(r->domain);
		return -1;
	}
	return 0;
}

static int
load_rule(void *ctx, const struct screen_row *row)
{
	struct screen_rules *set = ctx;
	const char *error;

	if (screen_rules_add(set, row->action, row->kind, row->pattern,
	    row->services, row->domain, row->shadow, row->id, &error) < 0)
		log_warnx("screen: rule #%lld (%s %s) left out: %s",
		    (long long)row->id, screen_kind_name(row->kind),
		    row->pattern, error);
	return 0;
}

int
screen_rules_load(struct store *st, struct screen_rules **out,
    const char **error_r)
{
	struct screen_rules *set = screen_rules_new();

	if (store_screen_load(st, load_rule, set, error_r) < 0) {
		screen_rules_free(&set);
		return -1;
	}
	*out = set;
	return 0;
}

/*
 * Matching
 */

static bool
applies(const struct srule *r, enum screen_service svc, const char *scope)
{
	if ((r->services & (unsigned)svc) == 0)
		return false;
	return r->domain == NULL || (scope != NULL && ascii_ieq(scope,
	    r->domain));
}

static void
keep(struct best *b, const struct srule *r)
{
	const struct srule **slot = &b->r[r->shadow][r->action == SCREEN_DENY];

	if (*slot == NULL || r->id < (*slot)->id)
		*slot = r;
}

/* The rules of a key: in each class the first that applies is the
 * lowest id of that class. */
static void
consider_slot(const struct screen_rules *set, const struct slot *sl,
    struct best *b, enum screen_service svc, const char *scope)
{
	const struct srule *r;
	unsigned c;
	uint32_t i;

	if (sl == NULL)
		return;
	for (c = 0; c < NCLASS; c++)
		for (i = sl->head[c]; i != NIL; i = r->next) {
			r = &set->rules[i];
			if (applies(r, svc, scope)) {
				keep(b, r);
				break;
			}
		}
}

static void
hit_fill(struct screen_hit *h, const struct srule *r)
{
	h->id = r->id;
	h->action = (enum screen_action)r->action;
	h->kind = (enum screen_kind)r->kind;
	h->pattern = r->pattern;
	h->domain = r->domain != NULL ? r->domain : "";
	h->shadow = r->shadow;
}

static enum screen_action
verdict_fill(const struct best *b, struct screen_verdict *v)
{
	const struct srule *ea = b->r[0][0], *ed = b->r[0][1];
	const struct srule *sa = b->r[1][0], *sd = b->r[1][1];
	const struct srule *wr = NULL;
	enum screen_action would = SCREEN_NONE;

	memset(v, 0, sizeof(*v));
	if (ea != NULL) {
		v->action = SCREEN_ALLOW;
		hit_fill(&v->rule, ea);
	} else if (ed != NULL) {
		v->action = SCREEN_DENY;
		hit_fill(&v->rule, ed);
	}
	/* The verdict had every shadow rule been enforced. */
	if (ea != NULL || sa != NULL) {
		would = SCREEN_ALLOW;
		wr = ea != NULL ? ea : sa;
	} else if (ed != NULL || sd != NULL) {
		would = SCREEN_DENY;
		wr = ed != NULL ? ed : sd;
	}
	if (would != v->action) {
		v->shadow_action = would;
		hit_fill(&v->shadow_rule, wr);
	}
	return v->action;
}

/* '*' any run, '?' one character; pattern lower case, s compared in
 * lower case. Backtracks only to the last '*', so it is O(len(p) *
 * len(s)) at worst. */
static bool
glob_match(const char *p, const char *s, size_t n)
{
	const char *star_p = NULL;
	size_t i = 0, star_i = 0;

	while (i < n) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (*p == '*') {
			star_p = ++p;
			star_i = i;
		} else if (*p != '\0' && (*p == '?' || *p == c)) {
			p++;
			i++;
		} else if (star_p != NULL) {
			p = star_p;
			i = ++star_i;
		} else
			return false;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

enum screen_action
screen_match_ip(const struct screen_rules *set, enum screen_service svc,
    const char *scope, const char *ip, struct screen_verdict *v)
{
	struct best b = { 0 };
	uint8_t key[2 + 16];
	const uint8_t *list;
	enum key_type type;
	uint64_t a0, a1, w0, w1, h;
	struct cidr c;
	unsigned i, n, p;
	size_t len;

	if (set == NULL || set->nrules == 0 || strchr(ip, '/') != NULL ||
	    cidr_parse(ip, &c) < 0)
		return verdict_fill(&b, v);
	if (c.family == AF_INET) {
		type = KEY_IP4;
		list = set->plen4;
		n = set->n4;
	} else {
		type = KEY_IP6;
		list = set->plen6;
		n = set->n6;
	}
	/* IPv4: bytes 4..15 are zero (cidr_parse). */
	memcpy(&a0, c.addr, 8);
	memcpy(&a1, c.addr + 8, 8);
	for (i = 0; i < n; i++) {
		p = list[i];
		w0 = a0 & set->mask[p][0];
		w1 = a1 & set->mask[p][1];
		h = ip_hash(type, p, w0, w1);
		if (!bloom_test(set, h))
			continue;
		len = ip_key(key, type, p, w0, w1);
		consider_slot(set, table_get_h(set, h, key, len), &b, svc,
		    scope);
	}
	return verdict_fill(&b, v);
}

/* Exact and "*.suffix" lookups of a lower-case name of len bytes. */
static void
match_name(const struct screen_rules *set, enum screen_kind kind,
    enum key_type exact, const char *name, size_t len, struct best *b,
    enum screen_service svc, const char *scope)
{
	uint8_t key[KEY_MAX];
	size_t i;

	if (len == 0)
		return;
	if (exact != 0)
		consider_slot(set, table_get(set, key, text_key(key, exact,
		    kind, name, len)), b, svc, scope);
	/* Every proper suffix after a dot: "a.b.example.net" tries
	 * "b.example.net", "example.net", "net". */
	for (i = 0; i + 1 < len; i++)
		if (name[i] == '.')
			consider_slot(set, table_get(set, key, text_key(key,
			    KEY_SUFFIX, kind, name + i + 1, len - i - 1)), b,
			    svc, scope);
}

/* Is lit (len > 0) in s? memchr and memcmp: memmem sets up more than
 * a hostname is long. */
static bool
contains(const char *s, size_t n, const char *lit, size_t len)
{
	const char *p = s, *end = s + n;

	while ((size_t)(end - p) >= len &&
	    (p = memchr(p, lit[0], (size_t)(end - p) - len + 1)) != NULL) {
		if (memcmp(p, lit, len) == 0)
			return true;
		p++;
	}
	return false;
}

/* Does glob rule r match s (n bytes)? lower: s is known to be lower
 * case, so the literal prefilter may be used. */
static bool
glob_try(const struct srule *r, const char *s, size_t n, bool lower)
{
	if (lower && r->lit_len > 0 && !contains(s, n, r->pattern +
	    r->lit_off, r->lit_len))
		return false;
	return glob_match(r->pattern + r->glob_off, s, n);
}

/* whole: the name or address; dom: the address's domain or NULL; both
 * lower case when lower. */
static void
match_globs(const struct screen_rules *set, enum screen_kind kind,
    const char *whole, size_t wlen, const char *dom, size_t dlen,
    bool lower, struct best *b, enum screen_service svc, const char *scope)
{
	const struct srule *r;
	uint32_t i;

	for (i = set->globs[kind]; i != NIL; i = r->next) {
		r = &set->rules[i];
		if (!applies(r, svc, scope))
			continue;
		if (r->on_domain ? dom != NULL && glob_try(r, dom, dlen,
		    lower) : glob_try(r, whole, wlen, lower))
			keep(b, r);
	}
}

static enum screen_action
match_hostname(const struct screen_rules *set, enum screen_kind kind,
    enum screen_service svc, const char *scope, const char *name,
    struct screen_verdict *v)
{
	char low[NAME_MAX_LEN + 1];
	struct best b = { 0 };
	size_t len;

	if (set == NULL || set->nrules == 0 || name == NULL)
		return verdict_fill(&b, v);
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len > NAME_MAX_LEN) {
		/* Longer than any DNS name: only a glob can match it. */
		match_globs(set, kind, name, len, NULL, 0, false, &b, svc,
		    scope);
		return verdict_fill(&b, v);
	}
	memcpy(low, name, len);
	low[len] = '\0';
	ascii_lower(low);
	match_name(set, kind, KEY_EXACT, low, len, &b, svc, scope);
	match_globs(set, kind, low, len, NULL, 0, true, &b, svc, scope);
	return verdict_fill(&b, v);
}

enum screen_action
screen_match_host(const struct screen_rules *set, enum screen_service svc,
    const char *scope, const char *hostname, struct screen_verdict *v)
{
	return match_hostname(set, SCREEN_KIND_HOST, svc, scope, hostname, v);
}

enum screen_action
screen_match_helo(const struct screen_rules *set, enum screen_service svc,
    const char *scope, const char *helo, struct screen_verdict *v)
{
	return match_hostname(set, SCREEN_KIND_HELO, svc, scope, helo, v);
}

static enum screen_action
match_address(const struct screen_rules *set, enum screen_kind kind,
    enum screen_service svc, const char *scope, const char *addr,
    struct screen_verdict *v)
{
	char low[SCREEN_PATTERN_MAX + 1];
	uint8_t key[KEY_MAX];
	struct best b = { 0 };
	const char *at, *whole = addr, *dom = NULL;
	size_t len, dlen = 0;
	bool lower = false;

	if (set == NULL || set->nrules == 0 || addr == NULL)
		return verdict_fill(&b, v);
	len = strlen(addr);
	if (len <= SCREEN_PATTERN_MAX) {
		memcpy(low, addr, len);
		low[len] = '\0';
		ascii_lower(low);
		whole = low;
		lower = true;
		consider_slot(set, table_get(set, key, text_key(key,
		    KEY_EXACT, kind, low, len)), &b, svc, scope);
	}
	if ((at = strrchr(whole, '@')) != NULL) {
		dom = at + 1;
		dlen = len - (size_t)(dom - whole);
		/* "example.com." is example.com */
		if (dlen > 1 && dom[dlen - 1] == '.')
			dlen--;
	}
	if (lower && dom != NULL && dlen > 0 && dlen <= NAME_MAX_LEN) {
		consider_slot(set, table_get(set, key, text_key(key,
		    KEY_DOMAIN, kind, dom, dlen)), &b, svc, scope);
		match_name(set, kind, 0, dom, dlen, &b, svc, scope);
	}
	match_globs(set, kind, whole, len, dom, dlen, lower, &b, svc, scope);
	return verdict_fill(&b, v);
}

enum screen_action
screen_match_sender(const struct screen_rules *set, enum screen_service svc,
    const char *scope, const char *address, struct screen_verdict *v)
{
	return match_address(set, SCREEN_KIND_SENDER, svc, scope, address, v);
}

enum screen_action
screen_match_rcpt(const struct screen_rules *set, enum screen_service svc,
    const char *scope, const char *address, struct screen_verdict *v)
{
	return match_address(set, SCREEN_KIND_RCPT, svc, scope, address, v);
}

/*
 * Verdicts
 */

static unsigned
rank(enum screen_action a)
{
	return a == SCREEN_ALLOW ? 2 : a == SCREEN_DENY ? 1 : 0;
}

/* Does (a, ha) beat (b, hb)? Allow over deny over none; then the lower
 * rule id. */
static bool
beats(enum screen_action a, const struct screen_hit *ha,
    enum screen_action b, const struct screen_hit *hb)
{
	if (rank(a) != rank(b))
		return rank(a) > rank(b);
	return a != SCREEN_NONE && ha->id < hb->id;
}

void
screen_verdict_merge(struct screen_verdict *dst,
    const struct screen_verdict *src)
{
	enum screen_action dw, sw;
	struct screen_hit dwr, swr;

	/* What each would say with its shadow rules enforced. */
	dw = dst->shadow_action != SCREEN_NONE ? dst->shadow_action :
	    dst->action;
	dwr = dst->shadow_action != SCREEN_NONE ? dst->shadow_rule :
	    dst->rule;
	sw = src->shadow_action != SCREEN_NONE ? src->shadow_action :
	    src->action;
	swr = src->shadow_action != SCREEN_NONE ? src->shadow_rule :
	    src->rule;
	if (beats(src->action, &src->rule, dst->action, &dst->rule)) {
		dst->action = src->action;
		dst->rule = src->rule;
	}
	if (beats(sw, &swr, dw, &dwr)) {
		dw = sw;
		dwr = swr;
	}
	/* When the two differ, no enforced rule gives dw: its rule is a
	 * shadow rule. */
	if (dw != dst->action) {
		dst->shadow_action = dw;
		dst->shadow_rule = dwr;
	} else {
		dst->shadow_action = SCREEN_NONE;
		memset(&dst->shadow_rule, 0, sizeof(dst->shadow_rule));
	}
}

void
screen_hit_format(const struct screen_hit *h, char *buf, size_t len)
{
	/* Truncation only shortens the log text. */
	(void)snprintf(buf, len, "%s %s %s #%lld%s%s%s",
	    screen_action_name(h->action), screen_kind_name(h->kind),
	    h->pattern != NULL ? h->pattern : "", (long long)h->id,
	    h->domain != NULL && h->domain[0] != '\0' ? " domain=" : "",
	    h->domain != NULL ? h->domain : "", h->shadow ? " shadow" : "");
}
