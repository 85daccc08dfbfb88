/* outbreak_table: the shared, bounded, file-backed table of outbreak
 * fingerprints (see outbreak.h), counted by every worker process.
 *
 * Each entry keeps two half-window buckets (the current one and the one
 * before), each with its message count and three small bitmaps: client
 * addresses, sender domains and recipients hashed to one bit each. The
 * union of the two buckets covers between half a window and a window of
 * the past; its distinct counts are linear-counting estimates
 * (n = m ln(m / zero bits)), good to a few percent well below the bitmap
 * size and saturating above it, which is plenty for thresholds of tens
 * to hundreds. */
#include "outbreak.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hash.h"
#include "log.h"
#include "shmap.h"
#include "xalloc.h"

#define OB_MAGIC	"MOATOBK1"
#define OB_VERSION	1
#define OB_IP_BITS	512
#define OB_DOM_BITS	512
#define OB_RCPT_BITS	2048
#define OB_CAPACITY_DEFAULT	8192
#define OB_ADDR_MAX	512	/* octets of an address hashed */

struct ob_bucket {
	uint64_t	ips[OB_IP_BITS / 64];
	uint64_t	doms[OB_DOM_BITS / 64];
	uint64_t	rcpts[OB_RCPT_BITS / 64];
	uint32_t	msgs;
	uint32_t	pad;
};

struct ob_entry {
	uint64_t	key;		/* 0: free */
	uint32_t	first_seen, last_seen;
	uint32_t	since;		/* in outbreak since, 0: not */
	uint32_t	released_until;
	uint32_t	epoch;		/* bucket number of b[cur] */
	uint8_t		kind;
	uint8_t		cur;
	uint8_t		pad[2];
	struct ob_bucket b[2];
};

struct ob_group {
	union shmap_mutex lock;
	struct ob_entry	e[OUTBREAK_GROUP];
};

struct ob_header {
	char		magic[8];
	uint32_t	version;
	uint32_t	header_size;
	uint32_t	entry_size;
	uint32_t	capacity;
	uint64_t	file_size;
	uint64_t	seed;
	char		pad[24];
};

_Static_assert(sizeof(struct ob_header) == 64, "header is one line");

struct outbreak_table {
	struct shmap	 shm;
	struct ob_header *hdr;
	struct ob_group	*groups;
	uint32_t	 ngroups;
};

static struct outbreak_table *shared_table;

void
outbreak_set_shared(struct outbreak_table *t)
{
	shared_table = t;
}

struct outbreak_table *
outbreak_shared(void)
{
	return shared_table;
}

/* ---- hashing and counting ---- */

/* FNV-1a of s, ASCII lower-cased, at most OB_ADDR_MAX octets, mixed. */
static uint64_t
hash_lower(const char *s)
{
	uint8_t low[OB_ADDR_MAX];
	size_t i;

	for (i = 0; s[i] != '\0' && i < OB_ADDR_MAX; i++) {
		uint8_t c = (uint8_t)s[i];

		low[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
	}
	return hash_mix64(hash_fnv1a64(low, i));
}

static void
bit_set(uint64_t *words, unsigned nbits, uint64_t h)
{
	unsigned bit = (unsigned)(h % nbits);

	words[bit / 64] |= (uint64_t)1 << (bit % 64);
}

/* Natural logarithm of x >= 1, without libm: halve into [1, 2), then
 * ln(x) = 2 atanh((x - 1) / (x + 1)), a series that converges fast
 * there. */
static double
ln_ge1(double x)
{
	double acc = 0, y, y2, term, sum = 0;
	unsigned k;

	while (x >= 2) {
		x /= 2;
		acc += 0.69314718055994530942;
	}
	y = (x - 1) / (x + 1);
	y2 = y * y;
	term = y;
	for (k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= y2;
	}
	return acc + 2 * sum;
}

/* Linear counting over the union of two bitmaps of nbits. */
static unsigned
distinct(const uint64_t *a, const uint64_t *b, unsigned nbits)
{
	unsigned set = 0, i, zeros;

	for (i = 0; i < nbits / 64; i++)
		set += (unsigned)__builtin_popcountll(a[i] | b[i]);
	zeros = nbits - set;
	if (zeros == 0)
		zeros = 1;	/* saturated: the largest estimate */
	return (unsigned)((double)nbits * ln_ge1((double)nbits / zeros) +
	    0.5);
}

static uint32_t
half_window(const struct outbreak_limits *lim)
{
	return lim->window >= 2 ? lim->window / 2 : 1;
}

/* Move e's buckets on to the bucket of now. */
static void
rotate(struct ob_entry *e, uint32_t bucket)
{
	if (bucket <= e->epoch)
		return;		/* the same bucket, or the clock went back */
	if (bucket == e->epoch + 1) {
		e->cur ^= 1;
		memset(&e->b[e->cur], 0, sizeof(e->b[0]));
	} else
		memset(e->b, 0, sizeof(e->b));
	e->epoch = bucket;
}

static bool
live(const struct ob_entry *e, const struct outbreak_limits *lim,
    uint32_t now)
{
	return e->key != 0 && (now - e->last_seen < lim->window ||
	    e->released_until > now || now < e->last_seen);
}

/* e's state after rotating to now; updates e->since. True when e has
 * just entered the outbreak state. */
static bool
evaluate(struct ob_entry *e, const struct outbreak_limits *lim,
    uint32_t now, struct outbreak_state *st)
{
	bool in, entered = false;

	rotate(e, now / half_window(lim));
	memset(st, 0, sizeof(*st));
	st->key = e->key;
	st->kind = (char)e->kind;
	st->messages = e->b[0].msgs + e->b[1].msgs;
	st->ips = distinct(e->b[0].ips, e->b[1].ips, OB_IP_BITS);
	st->domains = distinct(e->b[0].doms, e->b[1].doms, OB_DOM_BITS);
	st->rcpts = distinct(e->b[0].rcpts, e->b[1].rcpts, OB_RCPT_BITS);
	st->sources = st->ips > st->domains ? st->ips : st->domains;
	in = st->sources >= lim->sources && st->rcpts >= lim->recipients &&
	    e->released_until <= now;
	if (!in)
		e->since = 0;
	else if (e->since == 0) {
		e->since = now;
		entered = true;
	}
	st->first_seen = e->first_seen;
	st->last_seen = e->last_seen;
	st->since = e->since;
	st->released_until = e->released_until > now ? e->released_until :
	    0;
	return entered;
}

/* ---- locks ---- */

static void
lock(struct ob_group *g)
{
	if (shmap_lock(&g->lock.m))
		/* A process died holding it: at worst a counter of one entry
		 * is half updated. */
		log_warnx("outbreak event=lock-recovered");
}

static void
unlock(struct ob_group *g)
{
	shmap_unlock(&g->lock.m);
}

/* ---- the file ---- */

static uint64_t
file_size_of(uint32_t capacity)
{
	return sizeof(struct ob_header) +
	    (uint64_t)(capacity / OUTBREAK_GROUP) * sizeof(struct ob_group);
}

static uint32_t
pow2_ceil(uint32_t v)
{
	uint32_t p = OUTBREAK_GROUP;

	while (p < v)
		p <<= 1;
	return p;
}

/* NULL when hdr describes a valid file of st_size octets (and of
 * capacity want, when not 0), else why not. */
static const char *
header_problem(const struct ob_header *h, uint64_t st_size, uint32_t want)
{
	if (memcmp(h->magic, OB_MAGIC, sizeof(h->magic)) != 0)
		return "bad magic";
	if (h->version != OB_VERSION || h->header_size != sizeof(*h) ||
	    h->entry_size != sizeof(struct ob_entry))
		return "other layout version";
	if (h->capacity < OUTBREAK_GROUP ||
	    h->capacity > OUTBREAK_CAPACITY_MAX ||
	    (h->capacity & (h->capacity - 1)) != 0 ||
	    h->file_size != file_size_of(h->capacity) ||
	    h->file_size != st_size)
		return "bad size";
	if (want != 0 && h->capacity != want)
		return "other capacity";
	return NULL;
}

static const char *
check_header(const void *hdr, uint64_t size, const void *want)
{
	return header_problem(hdr, size, *(const uint32_t *)want);
}

static int
init_header(void *map, uint64_t size, const void *want,
    const char **error_r)
{
	struct ob_header *h = map;

	h->version = OB_VERSION;
	h->header_size = sizeof(*h);
	h->entry_size = sizeof(struct ob_entry);
	h->capacity = *(const uint32_t *)want;
	h->file_size = size;
	if (getrandom(&h->seed, sizeof(h->seed), 0) !=
	    (ssize_t)sizeof(h->seed)) {
		*error_r = "cannot get random seed";
		return -1;
	}
	return 0;
}

/* Only the creator runs this, before anyone else maps the file: a lock a
 * crashed run left held is discarded. */
static int
locks_init(void *map)
{
	struct ob_header *h = map;
	struct ob_group *groups = (struct ob_group *)(void *)(h + 1);

	return shmap_mutex_init(&groups[0].lock.m,
	    h->capacity / OUTBREAK_GROUP, sizeof(struct ob_group));
}

static const struct shmap_layout ob_layout = {
	.name = "outbreak",
	.magic = OB_MAGIC,
	.header_size = sizeof(struct ob_header),
	.check = check_header,
	.init = init_header,
	.locks_init = locks_init,
	.recreate_note = NULL,
};

int
outbreak_open(const char *path, unsigned capacity, bool create,
    struct outbreak_table **t_r, const char **error_r)
{
	struct outbreak_table *t;
	uint32_t cap = 0;

	if (create) {
		if (capacity == 0)
			capacity = OB_CAPACITY_DEFAULT;
		if (capacity > OUTBREAK_CAPACITY_MAX) {
			*error_r = "capacity too large";
			errno = EINVAL;
			return -1;
		}
		cap = pow2_ceil(capacity);
	}
	t = xcalloc(1, sizeof(*t));
	if (shmap_open(&t->shm, &ob_layout, path, &cap,
	    create ? file_size_of(cap) : 0, error_r) < 0) {
		free(t);
		return -1;
	}
	t->hdr = t->shm.map;
	t->groups = (struct ob_group *)(void *)(t->hdr + 1);
	t->ngroups = t->hdr->capacity / OUTBREAK_GROUP;
	*t_r = t;
	return 0;
}

void
outbreak_close(struct outbreak_table **tp)
{
	struct outbreak_table *t = *tp;

	if (t == NULL)
		return;
	shmap_close(&t->shm);
	free(t);
	*tp = NULL;
}

int
outbreak_chown(struct outbreak_table *t, uid_t uid, gid_t gid)
{
	return shmap_chown(&t->shm, uid, gid);
}

/* ---- counting ---- */

static struct ob_group *
group_of(struct outbreak_table *t, uint64_t key)
{
	return &t->groups[hash_mix64(key ^ t->hdr->seed) & (t->ngroups - 1)];
}

/* key's entry in g (locked), taking a free, expired or evicted slot when
 * it has none. */
static struct ob_entry *
entry_get(struct ob_group *g, uint64_t key, char kind,
    const struct outbreak_limits *lim, uint32_t now)
{
	struct ob_entry *e, *victim = NULL;
	unsigned i;

	for (i = 0; i < OUTBREAK_GROUP; i++) {
		e = &g->e[i];
		if (e->key == key) {
			if (live(e, lim, now))
				return e;
			victim = e;	/* its old counts are gone: reuse */
			goto fresh;
		}
	}
	for (i = 0; i < OUTBREAK_GROUP; i++) {
		e = &g->e[i];
		if (!live(e, lim, now)) {
			victim = e;
			goto fresh;
		}
		/* The least recently seen, outbreaks kept longest. */
		if (victim == NULL || (victim->since != 0) > (e->since != 0) ||
		    ((victim->since != 0) == (e->since != 0) &&
		    e->last_seen < victim->last_seen))
			victim = e;
	}
fresh:
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->kind = (uint8_t)kind;
	victim->first_seen = now;
	victim->last_seen = now;
	victim->epoch = now / half_window(lim);
	return victim;
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr;
}

int
outbreak_count(struct outbreak_table *t, const struct outbreak_fp *fp,
    const struct outbreak_event *ev, const struct outbreak_limits *lim,
    time_t now_t, struct outbreak_verdict *v)
{
	uint32_t now = (uint32_t)now_t;
	uint64_t hip, hdom;
	struct outbreak_state st;
	struct ob_group *g;
	struct ob_entry *e;
	struct ob_bucket *b;
	size_t i, r;
	bool entered;

	memset(v, 0, sizeof(*v));
	if (fp->nkeys == 0)
		return -1;
	hip = hash_lower(ev->ip != NULL ? ev->ip : "");
	hdom = hash_lower(domain_of(ev->sender != NULL ? ev->sender : ""));
	for (i = 0; i < fp->nkeys; i++) {
		g = group_of(t, fp->keys[i]);
		lock(g);
		e = entry_get(g, fp->keys[i], fp->kinds[i], lim, now);
		rotate(e, now / half_window(lim));
		b = &e->b[e->cur];
		b->msgs++;
		bit_set(b->ips, OB_IP_BITS, hip);
		bit_set(b->doms, OB_DOM_BITS, hdom);
		for (r = 0; r < ev->nrcpts; r++)
			bit_set(b->rcpts, OB_RCPT_BITS,
			    hash_lower(ev->rcpts[r]));
		if (now > e->last_seen)
			e->last_seen = now;
		entered = evaluate(e, lim, now, &st);
		unlock(g);
		if (st.since != 0 && !v->outbreak) {
			v->outbreak = true;
			v->tripped = entered;
			v->st = st;
		} else if (!v->outbreak && st.rcpts >= v->st.rcpts)
			v->st = st;
	}
	return 0;
}

void
outbreak_list(struct outbreak_table *t, const struct outbreak_limits *lim,
    time_t now_t, bool all,
    void (*cb)(void *ctx, const struct outbreak_state *st), void *ctx)
{
	struct outbreak_state sts[OUTBREAK_GROUP];
	uint32_t now = (uint32_t)now_t, gi;
	unsigned i, n;

	for (gi = 0; gi < t->ngroups; gi++) {
		struct ob_group *g = &t->groups[gi];

		n = 0;
		lock(g);
		for (i = 0; i < OUTBREAK_GROUP; i++) {
			struct ob_entry *e = &g->e[i];

			if (!live(e, lim, now))
				continue;
			(void)evaluate(e, lim, now, &sts[n]);
			if (all || sts[n].since != 0)
				n++;
		}
		unlock(g);
		for (i = 0; i < n; i++)
			cb(ctx, &sts[i]);
	}
}

unsigned
outbreak_release(struct outbreak_table *t, uint64_t key, bool all,
    const struct outbreak_limits *lim, time_t now_t)
{
	struct outbreak_state st;
	uint32_t now = (uint32_t)now_t, gi, first, last;
	unsigned i, n = 0;

	if (all) {
		first = 0;
		last = t->ngroups;
	} else {
		first = (uint32_t)(group_of(t, key) - t->groups);
		last = first + 1;
	}
	for (gi = first; gi < last; gi++) {
		struct ob_group *g = &t->groups[gi];

		lock(g);
		for (i = 0; i < OUTBREAK_GROUP; i++) {
			struct ob_entry *e = &g->e[i];

			if (!live(e, lim, now) || (!all && e->key != key))
				continue;
			(void)evaluate(e, lim, now, &st);
			if (all && st.since == 0)
				continue;
			memset(e->b, 0, sizeof(e->b));
			e->since = 0;
			e->released_until = now + lim->window;
			e->last_seen = now;
			n++;
		}
		unlock(g);
	}
	return n;
}
