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
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
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
	union {
		pthread_mutex_t	m;
		char		pad[64];
	} lock;
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

_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex fits its pad");
_Static_assert(sizeof(struct ob_header) == 64, "header is one line");

struct outbreak_table {
	void		*map;
	size_t		 size;
	int		 fd;
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
	int r = pthread_mutex_lock(&g->lock.m);

	if (r == EOWNERDEAD) {
		/* A process died holding it: at worst a counter of one entry
		 * is half updated. */
		log_warnx("outbreak event=lock-recovered");
		if ((r = pthread_mutex_consistent(&g->lock.m)) != 0)
			fatalx("outbreak: pthread_mutex_consistent: %s",
			    strerror(r));
		return;
	}
	if (r != 0)
		fatalx("outbreak: pthread_mutex_lock: %s", strerror(r));
}

static void
unlock(struct ob_group *g)
{
	int r = pthread_mutex_unlock(&g->lock.m);

	if (r != 0)
		fatalx("outbreak: pthread_mutex_unlock: %s", strerror(r));
}

static int
locks_init(struct outbreak_table *t)
{
	pthread_mutexattr_t a;
	uint32_t i;
	int r;

	if ((r = pthread_mutexattr_init(&a)) != 0) {
		errno = r;
		return -1;
	}
	if ((r = pthread_mutexattr_setpshared(&a,
	    PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
		/* Only the creator runs this, before anyone else maps the
		 * file: a lock a crashed run left held is discarded. */
		for (i = 0; i < t->ngroups && r == 0; i++)
			r = pthread_mutex_init(&t->groups[i].lock.m, &a);
	(void)pthread_mutexattr_destroy(&a);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
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

static void *
map_fd(int fd, uint64_t size)
{
	void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A fresh file built next to path and renamed into place. */
static int
create_file(const char *path, uint32_t cap, int *fd_r, void **map_r,
    const char **error_r)
{
	char tmp[PATH_MAX];
	struct ob_header *h;
	uint64_t size = file_size_of(cap);
	void *map;
	int fd, r, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >=
	    sizeof(tmp)) {
		*error_r = "path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		*error_r = "cannot remove stale temporary file";
		return -1;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		*error_r = "cannot create file";
		return -1;
	}
	/* Allocated now: a sparse file could SIGBUS a worker later on a
	 * full disk. */
	if ((r = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		errno = r;
		*error_r = "cannot allocate file";
		goto fail;
	}
	if ((map = map_fd(fd, size)) == NULL) {
		*error_r = "cannot map file";
		goto fail;
	}
	h = map;
	memset(h, 0, sizeof(*h));
	h->version = OB_VERSION;
	h->header_size = sizeof(*h);
	h->entry_size = sizeof(struct ob_entry);
	h->capacity = cap;
	h->file_size = size;
	if (getrandom(&h->seed, sizeof(h->seed), 0) !=
	    (ssize_t)sizeof(h->seed)) {
		*error_r = "cannot get random seed";
		saved = errno;
		(void)munmap(map, (size_t)size);
		errno = saved;
		goto fail;
	}
	memcpy(h->magic, OB_MAGIC, sizeof(h->magic));	/* valid last */
	if (rename(tmp, path) < 0) {
		*error_r = "cannot rename file into place";
		saved = errno;
		(void)munmap(map, (size_t)size);
		errno = saved;
		goto fail;
	}
	*fd_r = fd;
	*map_r = map;
	return 0;
fail:
	saved = errno;
	(void)close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

/* 1 mapped, 0 missing or invalid (*why_r), -1 system error. */
static int
open_existing(const char *path, uint32_t want, int *fd_r, void **map_r,
    const char **why_r)
{
	struct ob_header h;
	struct stat st;
	void *map;
	int fd, saved;

	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		*why_r = errno == ENOENT ? "missing" : "cannot open file";
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why_r = "cannot stat file";
		goto fail;
	}
	memset(&h, 0, sizeof(h));
	if (pread(fd, &h, sizeof(h), 0) < 0) {
		*why_r = "cannot read file";
		goto fail;
	}
	if ((*why_r = header_problem(&h, (uint64_t)st.st_size, want)) !=
	    NULL) {
		(void)close(fd);
		return 0;
	}
	if ((map = map_fd(fd, h.file_size)) == NULL) {
		*why_r = "cannot map file";
		goto fail;
	}
	*fd_r = fd;
	*map_r = map;
	return 1;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

int
outbreak_open(const char *path, unsigned capacity, bool create,
    struct outbreak_table **t_r, const char **error_r)
{
	struct outbreak_table *t;
	uint32_t cap = 0;
	const char *why = NULL;
	void *map = NULL;
	int fd = -1, r;

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
	r = open_existing(path, cap, &fd, &map, &why);
	if (r < 0) {
		*error_r = why;
		return -1;
	}
	if (r == 0 && !create) {
		*error_r = strcmp(why, "missing") == 0 ? "no such file" :
		    "invalid file";
		errno = ENOENT;
		return -1;
	}
	if (r == 0) {
		if (strcmp(why, "missing") != 0)
			log_warnx("outbreak event=recreate path=%s "
			    "reason=\"%s\"", path, why);
		if (create_file(path, cap, &fd, &map, error_r) < 0)
			return -1;
	}
	t = xcalloc(1, sizeof(*t));
	t->map = map;
	t->fd = fd;
	t->hdr = map;
	t->size = (size_t)t->hdr->file_size;
	t->groups = (struct ob_group *)(void *)((char *)map +
	    sizeof(struct ob_header));
	t->ngroups = t->hdr->capacity / OUTBREAK_GROUP;
	if (create && locks_init(t) < 0) {
		r = errno;
		outbreak_close(&t);
		errno = r;
		*error_r = "cannot initialise locks";
		return -1;
	}
	*t_r = t;
	return 0;
}

void
outbreak_close(struct outbreak_table **tp)
{
	struct outbreak_table *t = *tp;

	if (t == NULL)
		return;
	if (munmap(t->map, t->size) < 0)
		log_warn("outbreak event=munmap-failed");
	if (close(t->fd) < 0)
		log_warn("outbreak event=close-failed");
	free(t);
	*tp = NULL;
}

int
outbreak_chown(struct outbreak_table *t, uid_t uid, gid_t gid)
{
	return fchown(t->fd, uid, gid);
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
