/* dynscreen: the shared screening map (file layout, hashing, locking,
 * sliding-window counters, bans, notification limits). The API and its
 * guarantees are described in dynscreen.h. */
#include "dynscreen.h"

#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"
#include "shmap.h"
#include "util.h"
#include "xalloc.h"

#define DYN_MAGIC		"MOATDYN\0"
#define DYN_VERSION		2
#define DYN_PAGE		4096u
#define DYN_GROUP		16u	/* slots per group: 64 bytes of tags */
#define DYN_STRIPES		256u
#define DYN_DEDUPE		4
#define DYN_IP_CAPACITY_MAX	(1u << 22)
#define DYN_ACCT_CAPACITY_MAX	(1u << 20)
#define DYN_NOTIFY_WINDOW	3600u
#define DYN_TIME_MAX		(UINT32_MAX - 1)	/* below FOREVER */

/* Tags: 0 is an empty slot; bit 1 is always set in a used one; bit 0 marks
 * an entry whose ban may be active, so dyn_ip_banned() takes the lock only
 * for those. */
#define TAG_BAN			1u
#define TAG_USED		2u

#define ENT_SHADOW		0x01	/* the ban is a shadow ban */

/* Two-bucket sliding window; start is aligned to the window. */
struct win {
	uint32_t	 start;
	uint32_t	 cur;
	uint32_t	 prev;
};

/* The last few event fingerprints of a key, metric folded in. */
struct dedupe {
	uint32_t	 fp[DYN_DEDUPE];
	uint32_t	 t[DYN_DEDUPE];
};

/* First in every entry, so table code can read it whatever the key. */
struct ent_head {
	uint32_t	 last_seen;
	uint32_t	 ban_until;	/* end of the latest ban; 0: never */
	uint32_t	 hold;		/* keep this long after last_seen */
	uint16_t	 offences;
	uint8_t		 flags;		/* ENT_* */
	uint8_t		 spare;
};

/* Cold ban details: IP entries keep them in a parallel array so the entry
 * itself stays at two cache lines. */
struct ban_detail {
	uint32_t	 start;
	uint32_t	 count;
	char		 reason[64];
};

struct ip_entry {
	struct ent_head	 h;
	uint8_t		 family;
	uint8_t		 prefix;
	uint8_t		 pad[2];
	uint8_t		 addr[16];
	struct dedupe	 dd;
	struct win	 c[DYN_IP_METRIC_COUNT];
};

struct distinct {
	uint32_t	 ip[DYN_DISTINCT_MAX];	/* keyed hash | 1; 0: free */
	uint32_t	 t[DYN_DISTINCT_MAX];
};

struct acct_entry {
	struct ent_head	 h;
	uint64_t	 keyhash;
	uint32_t	 name_len;	/* full length; name holds a prefix */
	uint32_t	 pad;
	char		 name[DYN_ACCT_NAME_MAX];
	struct dedupe	 dd;
	struct win	 c[DYN_ACCT_METRIC_COUNT];
	struct distinct	 ds[DYN_DISTINCT_COUNT];
	struct ban_detail bd;
};

_Static_assert(sizeof(struct ip_entry) == 128, "IP entry is 128 bytes");

struct dyn_header {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 header_size;
	uint32_t	 ip_cap;
	uint32_t	 acct_cap;
	uint32_t	 ip_entry_size;
	uint32_t	 acct_entry_size;
	uint64_t	 file_size;
	uint64_t	 seed[2];
	uint64_t	 created;
	uint64_t	 rules_generation;	/* __atomic only */
	/* Prefix lengths that ever carried an IP ban, one bit each (v4:
	 * bits 0..32 of ban_plen4; v6: 0..128 over ban_plen6), so that a
	 * lookup tries only those lengths. __atomic only; never cleared
	 * (a stale bit costs one lookup). */
	uint64_t	 ban_plen4;
	uint64_t	 ban_plen6[3];
	struct win	 notify_hour;
	uint32_t	 notify_last[DYN_NOTIFY_SLOTS];
	union shmap_mutex notify_lock;
	union shmap_mutex ip_locks[DYN_STRIPES];
	union shmap_mutex acct_locks[DYN_STRIPES];
};

/* Byte offsets of the parts of the file. */
struct layout {
	uint64_t	 ip_tags, ip_ents, ip_bans;
	uint64_t	 acct_tags, acct_ents;
	uint64_t	 size;
};

enum tab_kind { TAB_IP, TAB_ACCT };

/* Process-local view of one table. */
struct tab {
	enum tab_kind	 kind;
	uint32_t	*tags;
	uint8_t		*ents;
	size_t		 esz;
	uint8_t		*bans;		/* slot i's ban_detail: i * bstride */
	size_t		 bstride;
	size_t		 off_dd, off_win;
	uint32_t	 cap, ngroups, nstripes, ratio;
	union shmap_mutex *locks;
};

struct dynscreen {
	struct dyn_header *hdr;
	struct shmap	 shm;
	uint64_t	 k0, k1;
	struct tab	 ip, acct;
};

/* A looked-up key: its hash, where it may live and how to compare it. */
struct key {
	uint64_t	 h;
	uint32_t	 tag;		/* TAG_USED set, TAG_BAN clear */
	uint32_t	 g1, g2, stripe;
	struct dyn_ip	 ip;		/* TAB_IP: masked copy */
	size_t		 len;		/* TAB_ACCT: full name length */
	char		 low[DYN_ACCT_NAME_MAX];	/* lower-cased prefix */
};

static const char *const ip_metric_names[DYN_IP_METRIC_COUNT] = {
	[DYN_UNKNOWN_RCPT] = "unknown-rcpt",
	[DYN_AUTH_FAIL] = "auth-fail",
	[DYN_CONNECT] = "connect",
	[DYN_PROTO_ERROR] = "proto-error",
	[DYN_RELAY] = "relay",
};

static const char *const acct_metric_names[DYN_ACCT_METRIC_COUNT] = {
	[DYN_ACCT_AUTH_FAIL] = "auth-fail",
	[DYN_ACCT_MSG_MIN] = "msg-min",
	[DYN_ACCT_MSG_HOUR] = "msg-hour",
	[DYN_ACCT_MSG_DAY] = "msg-day",
	[DYN_ACCT_RCPT_MIN] = "rcpt-min",
	[DYN_ACCT_RCPT_HOUR] = "rcpt-hour",
	[DYN_ACCT_RCPT_DAY] = "rcpt-day",
	[DYN_ACCT_LOCAL_MSG_MIN] = "local-msg-min",
	[DYN_ACCT_LOCAL_MSG_HOUR] = "local-msg-hour",
	[DYN_ACCT_LOCAL_MSG_DAY] = "local-msg-day",
	[DYN_ACCT_FIRST_RCPT_DAY] = "first-rcpt-day",
};

/* ---- time and small helpers ---- */

static uint32_t
t32(time_t t)
{
	if (t <= 0)
		return 0;
	if ((uint64_t)t > DYN_TIME_MAX)
		return DYN_TIME_MAX;
	return (uint32_t)t;
}

static uint32_t
sat_add32(uint32_t a, uint64_t b)
{
	uint64_t s = (uint64_t)a + b;

	return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

static uint64_t
round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static uint32_t
pow2_ceil(uint32_t v)
{
	uint32_t p = DYN_GROUP;

	while (p < v)
		p <<= 1;
	return p;
}

/* ---- SipHash-1-3 (keyed, so attackers cannot aim at one group) ---- */

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t	 v0, v1, v2, v3;
};

static inline void
sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static inline void
sip_init(struct sip *s, const struct dynscreen *d)
{
	s->v0 = d->k0 ^ UINT64_C(0x736f6d6570736575);
	s->v1 = d->k1 ^ UINT64_C(0x646f72616e646f6d);
	s->v2 = d->k0 ^ UINT64_C(0x6c7967656e657261);
	s->v3 = d->k1 ^ UINT64_C(0x7465646279746573);
}

static inline void
sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	s->v0 ^= m;
}

static inline uint64_t
sip_final(struct sip *s, uint64_t b)
{
	sip_word(s, b);
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* Hash bytes, ASCII-lower-cased when lower is set. dom separates the uses
 * of the one per-file key. */
static uint64_t
sip_bytes(const struct dynscreen *d, uint8_t dom, const char *p, size_t len,
    bool lower)
{
	struct sip s;
	uint64_t m = 0;
	size_t i;
	unsigned n = 0;

	sip_init(&s, d);
	sip_word(&s, dom);
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t)p[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		m |= (uint64_t)c << (8 * n);
		if (++n == 8) {
			sip_word(&s, m);
			m = 0;
			n = 0;
		}
	}
	return sip_final(&s, m | ((uint64_t)(len & 0xff) << 56));
}

static uint64_t
sip_ip(const struct dynscreen *d, const struct dyn_ip *k)
{
	struct sip s;
	uint64_t w0, w1;

	memcpy(&w0, k->addr, 8);
	memcpy(&w1, k->addr + 8, 8);
	sip_init(&s, d);
	sip_word(&s, w0);
	sip_word(&s, w1);
	return sip_final(&s, (uint64_t)(uint8_t)k->family |
	    (uint64_t)k->prefix << 8 | (uint64_t)18 << 56);
}

/* ---- locks ---- */

static void
lock(pthread_mutex_t *m)
{
	if (shmap_lock(m))
		/* A process died holding it; its entry may be half
		 * written, which for counters is harmless. */
		log_warnx("dynscreen event=lock-recovered note=\"a process "
		    "died holding a screening lock\"");
}

static void
unlock(pthread_mutex_t *m)
{
	shmap_unlock(m);
}

/* Only the creator gets here, before anyone else maps the file. */
static int
locks_init(void *map)
{
	struct dyn_header *hdr = map;

	if (shmap_mutex_init(&hdr->notify_lock.m, 1,
	    sizeof(hdr->notify_lock)) < 0 ||
	    shmap_mutex_init(&hdr->ip_locks[0].m, DYN_STRIPES,
	    sizeof(hdr->ip_locks[0])) < 0 ||
	    shmap_mutex_init(&hdr->acct_locks[0].m, DYN_STRIPES,
	    sizeof(hdr->acct_locks[0])) < 0)
		return -1;
	return 0;
}

/* ---- sliding windows ---- */

static void
win_roll(struct win *w, uint32_t now, uint32_t window)
{
	uint32_t aligned;

	if (now < w->start)
		return;		/* clock went back: stay in the bucket */
	aligned = now - now % window;
	if (aligned == w->start)
		return;
	w->prev = aligned - w->start == window ? w->cur : 0;
	w->cur = 0;
	w->start = aligned;
}

/* The estimate of a rolled window. */
static unsigned
win_est(const struct win *w, uint32_t now, uint32_t window)
{
	uint64_t elapsed, part, est;

	elapsed = now > w->start ? now - w->start : 0;
	if (elapsed > window)
		elapsed = window;
	part = ((uint64_t)w->prev * (window - elapsed) + window / 2) / window;
	est = part + w->cur;
	return est > UINT_MAX ? UINT_MAX : (unsigned)est;
}

static unsigned
win_peek(const struct win *w, uint32_t now, uint32_t window)
{
	struct win c = *w;

	win_roll(&c, now, window);
	return win_est(&c, now, window);
}

static uint32_t
window32(unsigned window_s)
{
	return window_s == 0 ? 1 : window_s;
}

/* ---- tables ---- */

static inline struct ent_head *
ent(const struct tab *t, uint32_t slot)
{
	return (struct ent_head *)(void *)(t->ents + (size_t)slot * t->esz);
}

static inline struct ban_detail *
ban_of(const struct tab *t, uint32_t slot)
{
	return (struct ban_detail *)(void *)(t->bans +
	    (size_t)slot * t->bstride);
}

static inline struct win *
win_of(const struct tab *t, uint32_t slot, unsigned metric)
{
	return (struct win *)(void *)((uint8_t *)ent(t, slot) + t->off_win) +
	    metric;
}

static inline struct dedupe *
dd_of(const struct tab *t, uint32_t slot)
{
	return (struct dedupe *)(void *)((uint8_t *)ent(t, slot) + t->off_dd);
}

static inline uint32_t
tag_load(const struct tab *t, uint32_t slot)
{
	return __atomic_load_n(&t->tags[slot], __ATOMIC_ACQUIRE);
}

static inline void
tag_store(struct tab *t, uint32_t slot, uint32_t v)
{
	__atomic_store_n(&t->tags[slot], v, __ATOMIC_RELEASE);
}

static inline pthread_mutex_t *
stripe_lock(const struct tab *t, uint32_t stripe)
{
	return &t->locks[stripe].m;
}

/* Where k may live: two groups sharing one stripe, so one lock covers
 * both. g2 differs from g1 only above the stripe bits. */
static void
key_place(const struct tab *t, struct key *k)
{
	uint32_t m;

	k->tag = ((uint32_t)(k->h >> 32) | TAG_USED) & ~TAG_BAN;
	k->g1 = (uint32_t)k->h & (t->ngroups - 1);
	k->g2 = k->g1;
	if (t->ratio > 1) {
		m = 1 + ((uint32_t)(k->h >> 20) & 0xfff) % (t->ratio - 1);
		k->g2 = k->g1 ^ (m * t->nstripes);
	}
	k->stripe = k->g1 & (t->nstripes - 1);
}

static int
key_ip(const struct dynscreen *d, const struct dyn_ip *ip, struct key *k)
{
	unsigned bits, i;

	if (ip->family == AF_INET)
		bits = 32;
	else if (ip->family == AF_INET6)
		bits = 128;
	else
		return -1;
	if (ip->prefix > bits)
		return -1;
	memset(&k->ip, 0, sizeof(k->ip));
	k->ip.family = ip->family;
	k->ip.prefix = ip->prefix;
	memcpy(k->ip.addr, ip->addr, bits / 8);
	/* Callers mask, but a stray host bit must not make a new key. */
	for (i = ip->prefix; i < bits; i++)
		k->ip.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	k->h = sip_ip(d, &k->ip);
	key_place(&d->ip, k);
	return 0;
}

static int
key_acct(const struct dynscreen *d, const char *account, struct key *k)
{
	size_t i, n;

	if (account == NULL || *account == '\0')
		return -1;
	k->len = strlen(account);
	n = k->len < sizeof(k->low) ? k->len : sizeof(k->low);
	for (i = 0; i < n; i++) {
		char c = account[i];

		k->low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	k->h = sip_bytes(d, 'a', account, k->len, true);
	key_place(&d->acct, k);
	return 0;
}

static bool
key_match(const struct tab *t, uint32_t slot, const struct key *k)
{
	if (t->kind == TAB_IP) {
		const struct ip_entry *e = (const void *)ent(t, slot);

		return e->family == (uint8_t)k->ip.family &&
		    e->prefix == k->ip.prefix &&
		    memcmp(e->addr, k->ip.addr, 16) == 0;
	} else {
		const struct acct_entry *e = (const void *)ent(t, slot);
		size_t n = k->len < sizeof(e->name) ? k->len :
		    sizeof(e->name);

		return e->keyhash == k->h && e->name_len == k->len &&
		    memcmp(e->name, k->low, n) == 0;
	}
}

static void
key_store(struct tab *t, uint32_t slot, const struct key *k)
{
	if (t->kind == TAB_IP) {
		struct ip_entry *e = (void *)ent(t, slot);

		e->family = (uint8_t)k->ip.family;
		e->prefix = k->ip.prefix;
		memcpy(e->addr, k->ip.addr, 16);
	} else {
		struct acct_entry *e = (void *)ent(t, slot);

		e->keyhash = k->h;
		e->name_len = k->len > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)k->len;
		memcpy(e->name, k->low, k->len < sizeof(e->name) ? k->len :
		    sizeof(e->name));
	}
}

/* The key text of a used slot, for listings. */
static void
key_text(const struct tab *t, uint32_t slot, char *buf, size_t len)
{
	if (t->kind == TAB_IP) {
		const struct ip_entry *e = (const void *)ent(t, slot);
		struct dyn_ip k;

		memset(&k, 0, sizeof(k));
		k.family = e->family;
		k.prefix = e->prefix;
		memcpy(k.addr, e->addr, 16);
		(void)dyn_ip_format(&k, buf, len);
	} else {
		const struct acct_entry *e = (const void *)ent(t, slot);
		size_t n = e->name_len < sizeof(e->name) ? e->name_len :
		    sizeof(e->name);

		if (n >= len)
			n = len - 1;
		memcpy(buf, e->name, n);
		buf[n] = '\0';
	}
}

static void
slot_clear(struct tab *t, uint32_t slot)
{
	tag_store(t, slot, 0);
	memset(ent(t, slot), 0, t->esz);
	memset(ban_of(t, slot), 0, sizeof(struct ban_detail));
}

static inline uint32_t
group_slot(uint32_t g, unsigned i)
{
	return g * DYN_GROUP + i;
}

/* The slot holding k, or -1. Caller holds k's stripe lock. */
static int64_t
tab_find(const struct tab *t, const struct key *k)
{
	uint32_t g = k->g1, slot;
	unsigned pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < DYN_GROUP; i++) {
			slot = group_slot(g, i);
			if ((tag_load(t, slot) & ~TAG_BAN) == k->tag &&
			    key_match(t, slot, k))
				return slot;
		}
		if (k->g2 == k->g1)
			break;
		g = k->g2;
	}
	return -1;
}

/* The slot of k, inserting it if needed: into the emptier of its two
 * groups, else over the least recently seen entry without an active ban.
 * Returns -1 if every slot of both groups holds an active ban. Caller
 * holds k's stripe lock. */
static int64_t
tab_get(struct tab *t, const struct key *k, uint32_t now)
{
	uint32_t gs[2] = { k->g1, k->g2 }, slot, best_free[2] = { 0, 0 };
	unsigned nfree[2] = { 0, 0 }, ng, gi, i;
	int64_t found, victim = -1;
	uint32_t oldest = UINT32_MAX;

	if ((found = tab_find(t, k)) >= 0)
		return found;
	ng = k->g1 == k->g2 ? 1 : 2;
	for (gi = 0; gi < ng; gi++) {
		for (i = 0; i < DYN_GROUP; i++) {
			const struct ent_head *h;

			slot = group_slot(gs[gi], i);
			if (tag_load(t, slot) == 0) {
				if (nfree[gi]++ == 0)
					best_free[gi] = slot;
				continue;
			}
			h = ent(t, slot);
			if (h->ban_until > now)
				continue;	/* never evict a ban */
			if (victim < 0 || h->last_seen < oldest) {
				victim = slot;
				oldest = h->last_seen;
			}
		}
	}
	if (nfree[0] > 0 && nfree[0] >= nfree[1])
		slot = best_free[0];
	else if (nfree[1] > 0)
		slot = best_free[1];
	else if (victim >= 0)
		slot = (uint32_t)victim;
	else
		return -1;
	/* Free slots are zero already, unless a process died mid-write. */
	slot_clear(t, slot);
	key_store(t, slot, k);
	ent(t, slot)->last_seen = now;
	tag_store(t, slot, k->tag);
	return slot;
}

static void
touch(struct ent_head *h, uint32_t now, uint32_t window)
{
	uint64_t hold = (uint64_t)window * 2;

	h->last_seen = now;
	if (hold > h->hold)
		h->hold = hold > UINT32_MAX ? UINT32_MAX : (uint32_t)hold;
}

/* Has fingerprint fp been seen within the window? Records it if not, over
 * a free ring slot or else the oldest. The time of a repeat is not
 * refreshed: a client retrying a stale password for hours counts once per
 * window, so it stays visible at a low level. */
static bool
dedupe_seen(struct dedupe *dd, uint32_t fp, uint32_t now, uint32_t window)
{
	unsigned i, pick = 0;

	for (i = 0; i < DYN_DEDUPE; i++) {
		if (dd->fp[i] == fp && dd->t[i] <= now &&
		    now - dd->t[i] < window)
			return true;
		if (dd->fp[pick] != 0 && (dd->fp[i] == 0 ||
		    dd->t[i] < dd->t[pick]))
			pick = i;
	}
	dd->fp[pick] = fp;
	dd->t[pick] = now;
	return false;
}

static uint32_t
dedupe_fp(uint64_t dedupe, unsigned metric)
{
	uint64_t x = dedupe ^ ((uint64_t)(metric + 1) *
	    UINT64_C(0x9e3779b97f4a7c15));

	/* Mixed, so all 64 bits reach the 32 kept. */
	return (uint32_t)hash_mix64(x) | 1;
}

static unsigned
tab_add(struct tab *t, const struct key *k, unsigned metric, unsigned n,
    unsigned window_s, uint64_t dedupe, time_t now)
{
	uint32_t now32 = t32(now), window = window32(window_s);
	pthread_mutex_t *m = stripe_lock(t, k->stripe);
	struct win *w;
	unsigned est;
	int64_t slot;

	lock(m);
	if ((slot = tab_get(t, k, now32)) < 0) {
		unlock(m);
		return 0;
	}
	touch(ent(t, (uint32_t)slot), now32, window);
	w = win_of(t, (uint32_t)slot, metric);
	win_roll(w, now32, window);
	if (dedupe == 0 || !dedupe_seen(dd_of(t, (uint32_t)slot),
	    dedupe_fp(dedupe, metric), now32, window))
		w->cur = sat_add32(w->cur, n);
	est = win_est(w, now32, window);
	unlock(m);
	return est;
}

static unsigned
tab_peek(struct tab *t, const struct key *k, unsigned metric,
    unsigned window_s, time_t now)
{
	pthread_mutex_t *m = stripe_lock(t, k->stripe);
	unsigned est = 0;
	int64_t slot;

	lock(m);
	if ((slot = tab_find(t, k)) >= 0)
		est = win_peek(win_of(t, (uint32_t)slot, metric), t32(now),
		    window32(window_s));
	unlock(m);
	return est;
}

static void
ban_fill(const struct tab *t, uint32_t slot, struct dyn_ban *out)
{
	const struct ent_head *h = ent(t, slot);
	const struct ban_detail *bd = ban_of(t, slot);

	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	out->start = bd->start;
	out->until = h->ban_until;
	out->offences = h->offences;
	out->count = bd->count;
	/* The stored text is ours, but a torn write must not overrun. */
	memcpy(out->reason, bd->reason, sizeof(out->reason) - 1);
	out->shadow = (h->flags & ENT_SHADOW) != 0;
}

static void
ban_set_reason(struct ban_detail *bd, const char *reason)
{
	(void)moat_strlcpy(bd->reason, reason != NULL ? reason : "",
	    sizeof(bd->reason));
}

/* base * 2^offences, capped. */
static uint32_t
ban_duration(unsigned base_s, unsigned max_s, unsigned offences)
{
	uint64_t dur = base_s, cap = max_s < base_s ? base_s : max_s;

	while (offences-- > 0 && dur < cap)
		dur <<= 1;
	if (dur > cap)
		dur = cap;
	return (uint32_t)dur;
}

static int
tab_ban(struct tab *t, const struct key *k, const char *reason,
    unsigned count, unsigned base_s, unsigned max_s, bool shadow,
    time_t now, struct dyn_ban *out)
{
	uint32_t now32 = t32(now), dur;
	pthread_mutex_t *m = stripe_lock(t, k->stripe);
	struct ent_head *h;
	struct ban_detail *bd;
	unsigned offences;
	int64_t slot;

	lock(m);
	if ((slot = tab_get(t, k, now32)) < 0) {
		unlock(m);
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return -1;
	}
	h = ent(t, (uint32_t)slot);
	bd = ban_of(t, (uint32_t)slot);
	if (h->ban_until > now32) {
		if (!(h->flags & ENT_SHADOW) || shadow) {
			ban_fill(t, (uint32_t)slot, out);
			unlock(m);
			return 0;
		}
		/* A shadow ban becomes real: the same incident. */
		offences = h->offences;
	} else if (h->ban_until != 0 &&
	    now32 - h->ban_until < DYN_OFFENCE_MEMORY)
		offences = h->offences < UINT16_MAX ? h->offences + 1u :
		    UINT16_MAX;
	else
		offences = 0;
	dur = ban_duration(base_s, max_s, offences);
	h->ban_until = sat_add32(now32, dur);
	if (h->ban_until > DYN_TIME_MAX)
		h->ban_until = DYN_TIME_MAX;
	h->offences = (uint16_t)offences;
	h->flags = shadow ? (uint8_t)(h->flags | ENT_SHADOW) :
	    (uint8_t)(h->flags & ~ENT_SHADOW);
	h->last_seen = now32;
	bd->start = now32;
	bd->count = count;
	ban_set_reason(bd, reason);
	tag_store(t, (uint32_t)slot, k->tag | TAG_BAN);
	ban_fill(t, (uint32_t)slot, out);
	unlock(m);
	return 1;
}

static int
tab_ban_until(struct tab *t, const struct key *k, time_t until,
    const char *reason, time_t now)
{
	uint32_t now32 = t32(now), until32;
	pthread_mutex_t *m = stripe_lock(t, k->stripe);
	struct ent_head *h;
	struct ban_detail *bd;
	int64_t slot;

	until32 = until >= DYN_BAN_FOREVER ? UINT32_MAX : t32(until);
	if (until32 <= now32)
		return -1;
	lock(m);
	if ((slot = tab_get(t, k, now32)) < 0) {
		unlock(m);
		return -1;
	}
	h = ent(t, (uint32_t)slot);
	bd = ban_of(t, (uint32_t)slot);
	h->ban_until = until32;
	h->flags = (uint8_t)(h->flags & ~ENT_SHADOW);
	h->last_seen = now32;
	bd->start = now32;
	bd->count = 0;
	ban_set_reason(bd, reason);
	tag_store(t, (uint32_t)slot, k->tag | TAG_BAN);
	unlock(m);
	return 0;
}

static bool
tab_unban(struct tab *t, const struct key *k, time_t now)
{
	pthread_mutex_t *m = stripe_lock(t, k->stripe);
	bool was = false;
	int64_t slot;

	lock(m);
	if ((slot = tab_find(t, k)) >= 0) {
		was = ent(t, (uint32_t)slot)->ban_until > t32(now);
		/* Counters, fingerprints and offences go with it. */
		slot_clear(t, (uint32_t)slot);
	}
	unlock(m);
	return was;
}

static bool
tab_banned(struct tab *t, const struct key *k, time_t now,
    struct dyn_ban *out)
{
	uint32_t want = k->tag | TAG_BAN, now32;
	pthread_mutex_t *m;
	bool marked = false, banned = false;
	struct ent_head *h;
	unsigned i;
	int64_t slot;

	/* Lock-free: only a tag with the ban mark can be banned. A ban
	 * placed while we scan is seen by the next connection. */
	for (i = 0; i < DYN_GROUP && !marked; i++)
		marked = tag_load(t, group_slot(k->g1, i)) == want;
	for (i = 0; i < DYN_GROUP && !marked && k->g2 != k->g1; i++)
		marked = tag_load(t, group_slot(k->g2, i)) == want;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!marked)
		return false;
	now32 = t32(now);
	m = stripe_lock(t, k->stripe);
	lock(m);
	if ((slot = tab_find(t, k)) >= 0) {
		h = ent(t, (uint32_t)slot);
		if (h->ban_until > now32) {
			ban_fill(t, (uint32_t)slot, out);
			banned = !(h->flags & ENT_SHADOW);
		} else
			tag_store(t, (uint32_t)slot, k->tag);	/* ended */
	}
	unlock(m);
	return banned;
}

/* ---- file ---- */

static void
layout_of(uint32_t ip_cap, uint32_t acct_cap, struct layout *L)
{
	L->ip_tags = round_up(sizeof(struct dyn_header), DYN_PAGE);
	L->ip_ents = L->ip_tags + round_up((uint64_t)ip_cap * 4, DYN_PAGE);
	L->ip_bans = L->ip_ents + round_up((uint64_t)ip_cap *
	    sizeof(struct ip_entry), DYN_PAGE);
	L->acct_tags = L->ip_bans + round_up((uint64_t)ip_cap *
	    sizeof(struct ban_detail), DYN_PAGE);
	L->acct_ents = L->acct_tags + round_up((uint64_t)acct_cap * 4,
	    DYN_PAGE);
	L->size = L->acct_ents + round_up((uint64_t)acct_cap *
	    sizeof(struct acct_entry), DYN_PAGE);
}

static bool
cap_valid(uint32_t cap, uint32_t max)
{
	return cap >= DYN_GROUP && cap <= max && (cap & (cap - 1)) == 0;
}

/* Why hdr (of a file of size bytes) is unusable, or NULL. want_* of 0
 * accepts the file's own capacities. */
static const char *
header_problem(const struct dyn_header *hdr, uint64_t size,
    uint32_t want_ip, uint32_t want_acct)
{
	struct layout L;

	if (size < sizeof(*hdr))
		return "short file";
	if (memcmp(hdr->magic, DYN_MAGIC, sizeof(hdr->magic)) != 0)
		return "bad magic";
	if (hdr->version != DYN_VERSION ||
	    hdr->header_size != sizeof(*hdr) ||
	    hdr->ip_entry_size != sizeof(struct ip_entry) ||
	    hdr->acct_entry_size != sizeof(struct acct_entry))
		return "other layout version";
	if (!cap_valid(hdr->ip_cap, DYN_IP_CAPACITY_MAX) ||
	    !cap_valid(hdr->acct_cap, DYN_ACCT_CAPACITY_MAX))
		return "bad capacity";
	if ((want_ip != 0 && hdr->ip_cap != want_ip) ||
	    (want_acct != 0 && hdr->acct_cap != want_acct))
		return "capacity changed";
	layout_of(hdr->ip_cap, hdr->acct_cap, &L);
	if (hdr->file_size != L.size || size != L.size)
		return "wrong size";
	return NULL;
}

static void
tab_setup(struct tab *t, enum tab_kind kind, uint8_t *base, uint64_t tags,
    uint64_t ents, uint32_t cap, union shmap_mutex *locks)
{
	t->kind = kind;
	t->tags = (uint32_t *)(void *)(base + tags);
	t->ents = base + ents;
	t->cap = cap;
	t->ngroups = cap / DYN_GROUP;
	t->nstripes = t->ngroups < DYN_STRIPES ? t->ngroups : DYN_STRIPES;
	t->ratio = t->ngroups / t->nstripes;
	t->locks = locks;
}

static void
dyn_attach(struct dynscreen *d)
{
	struct dyn_header *hdr = d->shm.map;
	uint8_t *base = d->shm.map;
	struct layout L;

	d->hdr = hdr;
	d->k0 = hdr->seed[0];
	d->k1 = hdr->seed[1];
	layout_of(hdr->ip_cap, hdr->acct_cap, &L);
	tab_setup(&d->ip, TAB_IP, base, L.ip_tags, L.ip_ents, hdr->ip_cap,
	    hdr->ip_locks);
	d->ip.esz = sizeof(struct ip_entry);
	d->ip.bans = base + L.ip_bans;
	d->ip.bstride = sizeof(struct ban_detail);
	d->ip.off_dd = offsetof(struct ip_entry, dd);
	d->ip.off_win = offsetof(struct ip_entry, c);
	tab_setup(&d->acct, TAB_ACCT, base, L.acct_tags, L.acct_ents,
	    hdr->acct_cap, hdr->acct_locks);
	d->acct.esz = sizeof(struct acct_entry);
	d->acct.bans = base + L.acct_ents + offsetof(struct acct_entry, bd);
	d->acct.bstride = sizeof(struct acct_entry);
	d->acct.off_dd = offsetof(struct acct_entry, dd);
	d->acct.off_win = offsetof(struct acct_entry, c);
}

/* The capacities a file must have; 0 accepts the file's own. */
struct want {
	uint32_t	 ip_cap, acct_cap;
};

static const char *
check_header(const void *hdr, uint64_t size, const void *want)
{
	const struct want *w = want;

	return header_problem(hdr, size, w->ip_cap, w->acct_cap);
}

static int
init_header(void *map, uint64_t size, const void *want,
    const char **error_r)
{
	const struct want *w = want;
	struct dyn_header *hdr = map;

	hdr->version = DYN_VERSION;
	hdr->header_size = sizeof(*hdr);
	hdr->ip_cap = w->ip_cap;
	hdr->acct_cap = w->acct_cap;
	hdr->ip_entry_size = sizeof(struct ip_entry);
	hdr->acct_entry_size = sizeof(struct acct_entry);
	hdr->file_size = size;
	hdr->created = (uint64_t)time(NULL);
	if (getrandom(hdr->seed, sizeof(hdr->seed), 0) !=
	    (ssize_t)sizeof(hdr->seed)) {
		*error_r = "cannot get random seed";
		return -1;
	}
	return 0;
}

static const struct shmap_layout dyn_layout = {
	.name = "dynscreen",
	.magic = DYN_MAGIC,
	.header_size = sizeof(struct dyn_header),
	.check = check_header,
	.init = init_header,
	.locks_init = locks_init,
	.recreate_note = "bans and counters start empty",
};

int
dyn_open(const char *path, unsigned ip_capacity, unsigned acct_capacity,
    bool create, struct dynscreen **d_r, const char **error_r)
{
	struct dynscreen *d;
	struct want w = { 0, 0 };
	struct layout L = { .size = 0 };

	if (create) {
		if (ip_capacity == 0)
			ip_capacity = DYN_IP_CAPACITY_DEFAULT;
		if (acct_capacity == 0)
			acct_capacity = DYN_ACCT_CAPACITY_DEFAULT;
		if (ip_capacity > DYN_IP_CAPACITY_MAX ||
		    acct_capacity > DYN_ACCT_CAPACITY_MAX) {
			*error_r = "capacity too large";
			errno = EINVAL;
			return -1;
		}
		w.ip_cap = pow2_ceil(ip_capacity);
		w.acct_cap = pow2_ceil(acct_capacity);
		layout_of(w.ip_cap, w.acct_cap, &L);
	}
	d = xcalloc(1, sizeof(*d));
	if (shmap_open(&d->shm, &dyn_layout, path, &w, L.size, error_r) < 0) {
		free(d);
		return -1;
	}
	dyn_attach(d);
	*d_r = d;
	return 0;
}

void
dyn_close(struct dynscreen **dp)
{
	struct dynscreen *d = *dp;

	if (d == NULL)
		return;
	shmap_close(&d->shm);
	free(d);
	*dp = NULL;
}

int
dyn_sync(struct dynscreen *d)
{
	return shmap_sync(&d->shm);
}

int
dyn_chown(struct dynscreen *d, uid_t uid, gid_t gid)
{
	return shmap_chown(&d->shm, uid, gid);
}

static unsigned
tab_expire(struct tab *t, uint32_t now)
{
	unsigned freed = 0, i;
	uint32_t g, slot, tg;

	for (g = 0; g < t->ngroups; g++) {
		pthread_mutex_t *m = stripe_lock(t, g & (t->nstripes - 1));
		bool any = false;

		for (i = 0; i < DYN_GROUP && !any; i++)
			any = tag_load(t, group_slot(g, i)) != 0;
		if (!any)
			continue;
		lock(m);
		for (i = 0; i < DYN_GROUP; i++) {
			struct ent_head *h;

			slot = group_slot(g, i);
			if ((tg = tag_load(t, slot)) == 0)
				continue;
			h = ent(t, slot);
			if (h->ban_until > now)
				continue;
			if (tg & TAG_BAN)
				tag_store(t, slot, tg & ~TAG_BAN);
			/* Keep the offence count of a recent ban. */
			if (h->ban_until != 0 &&
			    now - h->ban_until < DYN_OFFENCE_MEMORY)
				continue;
			if (now < h->last_seen || now - h->last_seen < h->hold)
				continue;
			slot_clear(t, slot);
			freed++;
		}
		unlock(m);
	}
	return freed;
}

unsigned
dyn_expire(struct dynscreen *d, time_t now)
{
	uint32_t now32 = t32(now);

	return tab_expire(&d->ip, now32) + tab_expire(&d->acct, now32);
}

/* ---- keys and names ---- */

int
dyn_ip_key(const char *ip_text, unsigned prefix4, unsigned prefix6,
    struct dyn_ip *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };
	unsigned bits, i;

	memset(k, 0, sizeof(*k));
	if (prefix4 > 32 || prefix6 > 128)
		return -1;
	if (inet_pton(AF_INET, ip_text, k->addr) == 1)
		k->family = AF_INET;
	else if (inet_pton(AF_INET6, ip_text, k->addr) == 1) {
		k->family = AF_INET6;
		/* ::ffff:a.b.c.d is the IPv4 host a.b.c.d */
		if (memcmp(k->addr, mapped, sizeof(mapped)) == 0) {
			memmove(k->addr, k->addr + 12, 4);
			memset(k->addr + 4, 0, 12);
			k->family = AF_INET;
		}
	} else
		return -1;
	bits = k->family == AF_INET ? 32 : 128;
	k->prefix = (uint8_t)(k->family == AF_INET ? prefix4 : prefix6);
	for (i = k->prefix; i < bits; i++)
		k->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return 0;
}

const char *
dyn_ip_format(const struct dyn_ip *k, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	unsigned bits = k->family == AF_INET ? 32 : 128;

	if (len == 0)
		return buf;
	if ((k->family != AF_INET && k->family != AF_INET6) ||
	    inet_ntop(k->family, k->addr, text, sizeof(text)) == NULL) {
		(void)moat_strlcpy(buf, "?", len);
		return buf;
	}
	if (k->prefix >= bits)
		(void)moat_strlcpy(buf, text, len);
	else
		(void)snprintf(buf, len, "%s/%u", text, (unsigned)k->prefix);
	return buf;
}

const char *
dyn_ip_metric_name(enum dyn_ip_metric m)
{
	if ((unsigned)m >= DYN_IP_METRIC_COUNT)
		return "?";
	return ip_metric_names[m];
}

const char *
dyn_acct_metric_name(enum dyn_acct_metric m)
{
	if ((unsigned)m >= DYN_ACCT_METRIC_COUNT)
		return "?";
	return acct_metric_names[m];
}

/* ---- public counter and ban entry points ---- */

unsigned
dyn_ip_add(struct dynscreen *d, const struct dyn_ip *ip,
    enum dyn_ip_metric m, unsigned n, unsigned window_s, uint64_t dedupe,
    time_t now)
{
	struct key k;

	if ((unsigned)m >= DYN_IP_METRIC_COUNT || key_ip(d, ip, &k) < 0)
		return 0;
	return tab_add(&d->ip, &k, m, n, window_s, dedupe, now);
}

unsigned
dyn_ip_peek(struct dynscreen *d, const struct dyn_ip *ip,
    enum dyn_ip_metric m, unsigned window_s, time_t now)
{
	struct key k;

	if ((unsigned)m >= DYN_IP_METRIC_COUNT || key_ip(d, ip, &k) < 0)
		return 0;
	return tab_peek(&d->ip, &k, m, window_s, now);
}

unsigned
dyn_acct_add(struct dynscreen *d, const char *account,
    enum dyn_acct_metric m, unsigned n, unsigned window_s, uint64_t dedupe,
    time_t now)
{
	struct key k;

	if ((unsigned)m >= DYN_ACCT_METRIC_COUNT ||
	    key_acct(d, account, &k) < 0)
		return 0;
	return tab_add(&d->acct, &k, m, n, window_s, dedupe, now);
}

unsigned
dyn_acct_peek(struct dynscreen *d, const char *account,
    enum dyn_acct_metric m, unsigned window_s, time_t now)
{
	struct key k;

	if ((unsigned)m >= DYN_ACCT_METRIC_COUNT ||
	    key_acct(d, account, &k) < 0)
		return 0;
	return tab_peek(&d->acct, &k, m, window_s, now);
}

unsigned
dyn_acct_distinct_ip(struct dynscreen *d, const char *account,
    enum dyn_distinct kind, const struct dyn_ip *ip, unsigned window_s,
    time_t now)
{
	uint32_t now32 = t32(now), window = window32(window_s), hip = 0;
	struct tab *t = &d->acct;
	struct acct_entry *e;
	struct distinct *ds;
	pthread_mutex_t *m;
	struct key k, ki;
	unsigned i, pick, count = 0;
	int64_t slot;

	if ((unsigned)kind >= DYN_DISTINCT_COUNT ||
	    key_acct(d, account, &k) < 0)
		return 0;
	if (ip != NULL) {
		if (key_ip(d, ip, &ki) < 0)
			return 0;
		hip = (uint32_t)(ki.h ^ (ki.h >> 32)) | 1;
	}
	m = stripe_lock(t, k.stripe);
	lock(m);
	slot = ip != NULL ? tab_get(t, &k, now32) : tab_find(t, &k);
	if (slot < 0) {
		unlock(m);
		return 0;
	}
	e = (void *)ent(t, (uint32_t)slot);
	ds = &e->ds[kind];
	if (ip != NULL) {
		touch(&e->h, now32, window);
		pick = 0;
		for (i = 0; i < DYN_DISTINCT_MAX; i++) {
			if (ds->ip[i] == hip) {
				pick = i;
				break;
			}
			/* Free slot first, then the least recently seen. */
			if (ds->ip[pick] != 0 && (ds->ip[i] == 0 ||
			    ds->t[i] < ds->t[pick]))
				pick = i;
		}
		ds->ip[pick] = hip;
		ds->t[pick] = now32;
	}
	for (i = 0; i < DYN_DISTINCT_MAX; i++) {
		if (ds->ip[i] != 0 && (ds->t[i] > now32 ||
		    now32 - ds->t[i] < window))
			count++;
	}
	unlock(m);
	return count;
}

static void
note_ban_prefix(struct dynscreen *d, const struct dyn_ip *ip)
{
	if (ip->family == AF_INET && ip->prefix <= 32)
		(void)__atomic_fetch_or(&d->hdr->ban_plen4,
		    UINT64_C(1) << ip->prefix, __ATOMIC_RELEASE);
	else if (ip->family == AF_INET6 && ip->prefix <= 128)
		(void)__atomic_fetch_or(&d->hdr->ban_plen6[ip->prefix / 64],
		    UINT64_C(1) << (ip->prefix % 64), __ATOMIC_RELEASE);
}

unsigned
dyn_ban_prefixes(struct dynscreen *d, int family, uint8_t *out,
    unsigned max)
{
	unsigned n = 0, p, top = family == AF_INET ? 32 : 128;
	uint64_t w;

	for (p = top + 1; p-- > 0 && n < max;) {
		w = family == AF_INET ?
		    __atomic_load_n(&d->hdr->ban_plen4, __ATOMIC_ACQUIRE) :
		    __atomic_load_n(&d->hdr->ban_plen6[p / 64],
		    __ATOMIC_ACQUIRE);
		if (w & (UINT64_C(1) << (p % 64)))
			out[n++] = (uint8_t)p;
	}
	return n;
}

int
dyn_ip_ban(struct dynscreen *d, const struct dyn_ip *ip, const char *reason,
    unsigned count, unsigned base_s, unsigned max_s, bool shadow,
    time_t now, struct dyn_ban *out)
{
	struct key k;

	note_ban_prefix(d, ip);
	if (key_ip(d, ip, &k) < 0) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return -1;
	}
	return tab_ban(&d->ip, &k, reason, count, base_s, max_s, shadow,
	    now, out);
}

int
dyn_ip_ban_until(struct dynscreen *d, const struct dyn_ip *ip, time_t until,
    const char *reason, time_t now)
{
	struct key k;

	note_ban_prefix(d, ip);
	if (key_ip(d, ip, &k) < 0)
		return -1;
	return tab_ban_until(&d->ip, &k, until, reason, now);
}

bool
dyn_ip_unban(struct dynscreen *d, const struct dyn_ip *ip, time_t now)
{
	struct key k;

	if (key_ip(d, ip, &k) < 0)
		return false;
	return tab_unban(&d->ip, &k, now);
}

bool
dyn_ip_banned(struct dynscreen *d, const struct dyn_ip *ip, time_t now,
    struct dyn_ban *out)
{
	struct key k;

	if (key_ip(d, ip, &k) < 0) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return false;
	}
	return tab_banned(&d->ip, &k, now, out);
}

int
dyn_acct_block(struct dynscreen *d, const char *account, const char *reason,
    unsigned count, unsigned base_s, unsigned max_s, bool shadow,
    time_t now, struct dyn_ban *out)
{
	struct key k;

	if (key_acct(d, account, &k) < 0) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return -1;
	}
	return tab_ban(&d->acct, &k, reason, count, base_s, max_s, shadow,
	    now, out);
}

int
dyn_acct_block_until(struct dynscreen *d, const char *account, time_t until,
    const char *reason, time_t now)
{
	struct key k;

	if (key_acct(d, account, &k) < 0)
		return -1;
	return tab_ban_until(&d->acct, &k, until, reason, now);
}

bool
dyn_acct_unblock(struct dynscreen *d, const char *account, time_t now)
{
	struct key k;

	if (key_acct(d, account, &k) < 0)
		return false;
	return tab_unban(&d->acct, &k, now);
}

bool
dyn_acct_blocked(struct dynscreen *d, const char *account, time_t now,
    struct dyn_ban *out)
{
	struct key k;

	if (key_acct(d, account, &k) < 0) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return false;
	}
	return tab_banned(&d->acct, &k, now, out);
}

/* ---- listings ---- */

static void
tab_ban_list(struct tab *t, const char *kind, uint32_t now,
    void (*cb)(void *, const char *, const char *, const struct dyn_ban *),
    void *ctx)
{
	char text[DYN_KEY_TEXT_MAX];
	struct dyn_ban ban;
	uint32_t slot;

	/* One slot at a time, the callback outside the lock: it may call
	 * back into us, and a listing must not stall the workers. */
	for (slot = 0; slot < t->cap; slot++) {
		pthread_mutex_t *m;
		bool active = false;

		if (!(tag_load(t, slot) & TAG_BAN))
			continue;
		m = stripe_lock(t, (slot / DYN_GROUP) & (t->nstripes - 1));
		lock(m);
		if ((tag_load(t, slot) & TAG_BAN) &&
		    ent(t, slot)->ban_until > now) {
			ban_fill(t, slot, &ban);
			key_text(t, slot, text, sizeof(text));
			active = true;
		}
		unlock(m);
		if (active)
			cb(ctx, kind, text, &ban);
	}
}

void
dyn_ban_list(struct dynscreen *d, time_t now,
    void (*cb)(void *ctx, const char *kind, const char *key,
    const struct dyn_ban *ban), void *ctx)
{
	tab_ban_list(&d->ip, "ip", t32(now), cb, ctx);
	tab_ban_list(&d->acct, "account", t32(now), cb, ctx);
}

static void
tab_counter_list(struct tab *t, const char *kind, uint32_t now,
    const unsigned *windows, unsigned nmetric,
    const char *(*name)(unsigned),
    void (*cb)(void *, const char *, const char *, const char *, unsigned),
    void *ctx)
{
	char text[DYN_KEY_TEXT_MAX];
	unsigned est[DYN_ACCT_METRIC_COUNT], i;
	uint32_t slot;

	for (slot = 0; slot < t->cap; slot++) {
		pthread_mutex_t *m;
		bool used = false;

		if (tag_load(t, slot) == 0)
			continue;
		m = stripe_lock(t, (slot / DYN_GROUP) & (t->nstripes - 1));
		lock(m);
		if (tag_load(t, slot) != 0) {
			for (i = 0; i < nmetric; i++)
				est[i] = windows[i] == 0 ? 0 :
				    win_peek(win_of(t, slot, i), now,
				    windows[i]);
			key_text(t, slot, text, sizeof(text));
			used = true;
		}
		unlock(m);
		for (i = 0; used && i < nmetric; i++) {
			if (est[i] > 0)
				cb(ctx, kind, text, name(i), est[i]);
		}
	}
}

static const char *
ip_name(unsigned m)
{
	return dyn_ip_metric_name((enum dyn_ip_metric)m);
}

static const char *
acct_name(unsigned m)
{
	return dyn_acct_metric_name((enum dyn_acct_metric)m);
}

void
dyn_counter_list(struct dynscreen *d, time_t now,
    const unsigned ip_window_s[DYN_IP_METRIC_COUNT],
    const unsigned acct_window_s[DYN_ACCT_METRIC_COUNT],
    void (*cb)(void *ctx, const char *kind, const char *key,
    const char *metric, unsigned estimate), void *ctx)
{
	if (ip_window_s != NULL)
		tab_counter_list(&d->ip, "ip", t32(now), ip_window_s,
		    DYN_IP_METRIC_COUNT, ip_name, cb, ctx);
	if (acct_window_s != NULL)
		tab_counter_list(&d->acct, "account", t32(now), acct_window_s,
		    DYN_ACCT_METRIC_COUNT, acct_name, cb, ctx);
}

/* ---- notifications and rules generation ---- */

bool
dyn_notify_allow(struct dynscreen *d, const char *topic_key,
    unsigned interval_s, time_t now)
{
	struct dyn_header *hdr = d->hdr;
	uint32_t now32 = t32(now), *last;
	bool allow = false;

	last = &hdr->notify_last[sip_bytes(d, 'n', topic_key,
	    strlen(topic_key), false) % DYN_NOTIFY_SLOTS];
	lock(&hdr->notify_lock.m);
	/* A clock that went back also waits: never a flood. */
	if (*last == 0 || (now32 >= *last && now32 - *last >= interval_s)) {
		win_roll(&hdr->notify_hour, now32, DYN_NOTIFY_WINDOW);
		if (win_est(&hdr->notify_hour, now32, DYN_NOTIFY_WINDOW) <
		    DYN_NOTIFY_MAX_PER_HOUR) {
			hdr->notify_hour.cur++;
			*last = now32 == 0 ? 1 : now32;
			allow = true;
		}
	}
	unlock(&hdr->notify_lock.m);
	return allow;
}

uint64_t
dyn_rules_generation(struct dynscreen *d)
{
	return __atomic_load_n(&d->hdr->rules_generation, __ATOMIC_ACQUIRE);
}

void
dyn_rules_bump(struct dynscreen *d)
{
	(void)__atomic_fetch_add(&d->hdr->rules_generation, 1,
	    __ATOMIC_ACQ_REL);
}
