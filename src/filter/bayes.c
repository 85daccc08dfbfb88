/* bayes: Robinson/Fisher scoring over token counts per scope, the
 * in-memory copies of the scopes (refreshed by generation), and learning
 * (one transaction per message). See bayes.h.
 *
 * The math (Gary Robinson, "A Statistical Approach to the Spam Problem",
 * Linux Journal 2003): for a token seen in s of NS spam and h of NH ham
 * messages, p = (s/NS) / (s/NS + h/NH) and, with n = s + h,
 * f = (S*x + n*p) / (S + n), which pulls rarely seen tokens towards x.
 * Tokens with |f - 0.5| > min_dev, at most max_tokens of the most
 * extreme, are combined: H = C2(-2 sum ln f, 2n), S = C2(-2 sum ln(1-f),
 * 2n) with C2 the chi-square survival function, and the score is
 * (1 + H - S) / 2 (SpamBayes' form): near 1 when the spam hypothesis
 * explains the clues, near 0 for ham, 0.5 when both or neither do.
 * H and S are computed as logarithms, so that when strong clues point
 * both ways and both underflow, the messages are still ordered (by
 * ln H against ln S) instead of all scoring exactly 0.5. */
#include "bayes.h"

#include <math.h>		/* frexp, ldexp: in libc */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "log.h"
#include "store.h"
#include "store_spam.h"
#include "tokenize.h"
#include "xalloc.h"

#define BAYES_TABLE_MIN		1024	/* initial slots of a scope table */
#define BAYES_COUNT_MAX		UINT32_MAX
/* Below this, both chi-square tails count as saturated (see combine()). */
#define BAYES_SATURATED		1e-3

/* A token's counts in one scope, keyed by tokenize_hash() of the token:
 * 64 bits make a collision in a table of millions of tokens unlikely
 * enough not to matter for a statistical filter. hash 0 marks a free
 * slot (a real 0 hash is stored as 1). */
struct entry {
	uint64_t	hash;
	uint32_t	spam;
	uint32_t	ham;
};

struct scope {
	char		 name[BAYES_SCOPE_MAX + 1];	/* "" global */
	bool		 used;
	bool		 loaded;
	uint64_t	 nspam, nham;
	int64_t		 gen, epoch;
	uint64_t	 lru;
	struct entry	*tab;
	size_t		 cap;		/* power of two */
	size_t		 n;
};

struct bayes {
	struct store		*st;
	struct bayes_params	 p;
	struct tokenize		*tok;
	struct scope		 global;
	struct scope		 users[BAYES_USER_SCOPES];
	uint64_t		 lru;
	struct bayes_clue	 clues[TOKENIZE_TOKENS_MAX];
	size_t			 nclues;
};

void
bayes_params_default(struct bayes_params *p)
{
	/* Measured on bench/spam (SpamAssassin corpus, 5-fold): a small s
	 * (bogofilter's 0.0178 is close) trusts rare tokens, and with
	 * min_dev 0.375 only clear clues vote; s = 1 / min_dev = 0.1 left
	 * 2.4% of the spam in the unsure middle. */
	p->s = 0.02;
	p->x = 0.5;
	p->min_dev = 0.375;
	p->max_tokens = 150;
	p->ham_cutoff = 0.20;
	p->spam_cutoff = 0.50;
	p->user_min = 200;
	p->min_learned = 10;
	p->min_count = 1;
	/* Messages with strong clues both ways are mostly spam: on 5-fold
	 * a ratio of 1 gave FN 1.48 % / FP 0.22 %, 2.5 gives 0.79 / 0.36. */
	p->conflict_ratio = 2.5;
}

const char *
bayes_verdict_name(enum bayes_verdict v)
{
	switch (v) {
	case BAYES_VERDICT_HAM:
		return "ham";
	case BAYES_VERDICT_SPAM:
		return "spam";
	default:
		return "unsure";
	}
}

enum bayes_verdict
bayes_verdict(const struct bayes_params *p, double score)
{
	if (score >= p->spam_cutoff)
		return BAYES_VERDICT_SPAM;
	if (score < p->ham_cutoff)
		return BAYES_VERDICT_HAM;
	return BAYES_VERDICT_UNSURE;
}

/*
 * Scope tables
 */

static inline uint64_t
key(uint64_t h)
{
	return h == 0 ? 1 : h;
}

static void
scope_clear(struct scope *sc)
{
	free(sc->tab);
	sc->tab = NULL;
	sc->cap = sc->n = 0;
	sc->nspam = sc->nham = 0;
	sc->gen = sc->epoch = 0;
	sc->loaded = false;
}

static struct entry *
scope_find(const struct scope *sc, uint64_t h)
{
	size_t i;

	if (sc->cap == 0)
		return NULL;
	h = key(h);
	for (i = (size_t)h & (sc->cap - 1); sc->tab[i].hash != 0;
	    i = (i + 1) & (sc->cap - 1))
		if (sc->tab[i].hash == h)
			return &sc->tab[i];
	return NULL;
}

/* The entry of h, created with zero counts if needed. */
static struct entry *
scope_get(struct scope *sc, uint64_t h)
{
	struct entry *old;
	size_t i, oldcap;

	/* Keep the load under one half: probes stay short. */
	if (sc->n + 1 > sc->cap / 2) {
		old = sc->tab;
		oldcap = sc->cap;
		sc->cap = oldcap == 0 ? BAYES_TABLE_MIN : oldcap * 2;
		sc->tab = xcalloc(sc->cap, sizeof(*sc->tab));
		for (i = 0; i < oldcap; i++) {
			size_t j;

			if (old[i].hash == 0)
				continue;
			for (j = (size_t)old[i].hash & (sc->cap - 1);
			    sc->tab[j].hash != 0; j = (j + 1) & (sc->cap - 1))
				;
			sc->tab[j] = old[i];
		}
		free(old);
	}
	h = key(h);
	for (i = (size_t)h & (sc->cap - 1); sc->tab[i].hash != 0;
	    i = (i + 1) & (sc->cap - 1))
		if (sc->tab[i].hash == h)
			return &sc->tab[i];
	sc->tab[i].hash = h;
	sc->n++;
	return &sc->tab[i];
}

static uint32_t
clamp_count(int64_t v)
{
	if (v < 0)
		return 0;
	if ((uint64_t)v > BAYES_COUNT_MAX)
		return BAYES_COUNT_MAX;
	return (uint32_t)v;
}

static void
load_row(void *ctx, const uint8_t *token, size_t len, int64_t spam,
    int64_t ham)
{
	struct scope *sc = ctx;
	struct entry *e = scope_get(sc, tokenize_hash(token, len));

	e->spam = clamp_count(spam);
	e->ham = clamp_count(ham);
}

/* Bring the copy of a scope up to date with the database: nothing when
 * the generation is the same, the changed rows when it moved, all rows
 * when the scope is new to us or was forgotten. With load false only
 * the totals are read (a user below user_min). 0 or -1. */
static int
scope_refresh(struct bayes *b, struct scope *sc, bool load)
{
	struct store_spam_totals t;
	bool found;

	if (b->st == NULL)
		return 0;
	if (store_spam_totals(b->st, sc->name, &t, &found) < 0)
		return -1;
	if (!found) {
		scope_clear(sc);
		return 0;
	}
	if (!load) {
		if (sc->epoch != t.epoch)
			scope_clear(sc);
		sc->nspam = (uint64_t)t.nspam;
		sc->nham = (uint64_t)t.nham;
		return 0;
	}
	if (!sc->loaded || sc->epoch != t.epoch) {
		scope_clear(sc);
		if (store_spam_tokens(b->st, sc->name, -1, load_row, sc) < 0)
			return -1;
	} else if (sc->gen != t.gen) {
		if (store_spam_tokens(b->st, sc->name, sc->gen, load_row,
		    sc) < 0)
			return -1;
	}
	/* Rows newer than t.gen may have been read too: counts are
	 * absolute, so reading them again next time does no harm. */
	sc->loaded = true;
	sc->gen = t.gen;
	sc->epoch = t.epoch;
	sc->nspam = (uint64_t)t.nspam;
	sc->nham = (uint64_t)t.nham;
	return 0;
}

/* The canonical scope name of a user (lower case), false if unusable. */
static bool
scope_name(const char *user, char name[BAYES_SCOPE_MAX + 1])
{
	size_t i, len = strlen(user);

	if (len == 0 || len > BAYES_SCOPE_MAX)
		return false;
	for (i = 0; i <= len; i++)
		name[i] = user[i] >= 'A' && user[i] <= 'Z' ?
		    (char)(user[i] + 32) : user[i];
	return true;
}

/* The slot of a user's scope, taking the least recently used one. */
static struct scope *
user_scope(struct bayes *b, const char *user)
{
	char name[BAYES_SCOPE_MAX + 1];
	struct scope *sc, *victim = &b->users[0];
	size_t i;

	if (!scope_name(user, name))
		return NULL;
	for (i = 0; i < BAYES_USER_SCOPES; i++) {
		sc = &b->users[i];
		if (sc->used && strcmp(sc->name, name) == 0) {
			sc->lru = ++b->lru;
			return sc;
		}
		if (!sc->used || sc->lru < victim->lru)
			victim = sc;
	}
	scope_clear(victim);
	memcpy(victim->name, name, sizeof(victim->name));
	victim->used = true;
	victim->lru = ++b->lru;
	return victim;
}

/*
 * Scoring
 */

struct bayes *
bayes_new(struct store *st, const struct bayes_params *params)
{
	struct bayes *b = xcalloc(1, sizeof(*b));

	b->st = st;
	if (params != NULL)
		b->p = *params;
	else
		bayes_params_default(&b->p);
	if (b->p.max_tokens > BAYES_CLUES_MAX)
		b->p.max_tokens = BAYES_CLUES_MAX;
	b->tok = tokenize_new();
	return b;
}

void
bayes_free(struct bayes **bp)
{
	struct bayes *b = *bp;
	size_t i;

	if (b == NULL)
		return;
	scope_clear(&b->global);
	for (i = 0; i < BAYES_USER_SCOPES; i++)
		scope_clear(&b->users[i]);
	tokenize_free(&b->tok);
	free(b);
	*bp = NULL;
}

const struct bayes_params *
bayes_params(const struct bayes *b)
{
	return &b->p;
}

size_t
bayes_clues(const struct bayes *b, const struct bayes_clue **clues_r)
{
	*clues_r = b->clues;
	return b->nclues;
}

const struct tokenize *
bayes_tokens(const struct bayes *b)
{
	return b->tok;
}

/* ln and exp for the combining step. The programs link no libm, and
 * these need no more than double precision on well-behaved arguments:
 * ln by the mantissa's atanh series (|z| <= 1/3, 30 terms reach 1e-30),
 * exp by 2^k e^r with |r| <= ln 2 / 2 and its Taylor series. */
#define LN2	0.69314718055994530942

static double
bln(double x)
{
	double m, z, z2, term, sum = 0.0;
	int e, i;

	if (x <= 0.0)
		return -1e308;
	m = frexp(x, &e);	/* x = m 2^e, m in [0.5, 1) */
	z = (m - 1.0) / (m + 1.0);
	z2 = z * z;
	term = z;
	for (i = 1; i < 60; i += 2) {
		sum += term / i;
		term *= z2;
	}
	return 2.0 * sum + (double)e * LN2;
}

static double
bexp(double x)
{
	double r, term = 1.0, sum = 1.0;
	int k, i;

	if (x < -740.0)
		return 0.0;
	if (x > 709.0)
		return 1e308;
	k = (int)(x / LN2 + (x < 0 ? -0.5 : 0.5));
	r = x - (double)k * LN2;
	for (i = 1; i < 25; i++) {
		term *= r / i;
		sum += term;
	}
	return ldexp(sum, k);
}

static inline double
babs(double x)
{
	return x < 0.0 ? -x : x;
}

/* ln of the chi-square survival function for even degrees of freedom
 * v = 2k: P(X >= x2) = e^-m sum_{i<k} m^i / i!, m = x2 / 2. In log
 * space throughout (log-sum-exp over the terms), so that a probability
 * far below the smallest double still has a finite, ordered logarithm:
 * two messages that both reject a hypothesis beyond 1e-308 still say
 * which one rejects it more. */
static double
lnchi2q(double x2, unsigned k)
{
	double m = x2 / 2.0, lm, lt, top, sum;
	double lts[BAYES_CLUES_MAX];
	unsigned i;

	if (m <= 0.0 || k == 0)
		return 0.0;
	lm = bln(m);
	/* term i: ln(m^i / i!) = lt_{i-1} + ln m - ln i */
	for (i = 0, lt = 0.0, top = 0.0; i < k; i++) {
		if (i > 0)
			lt += lm - bln((double)i);
		lts[i] = lt;
		if (lt > top)
			top = lt;
	}
	for (i = 0, sum = 0.0; i < k; i++)
		sum += bexp(lts[i] - top);
	lt = -m + top + bln(sum);
	return lt > 0.0 ? 0.0 : lt;
}

/* The score of a message nothing is known about (untrained filter, no
 * clues): the middle of the unsure band, below spam_cutoff, so that
 * neither ignorance nor the first messages of a new filter file mail as
 * spam. */
static double
unsure_score(const struct bayes_params *p)
{
	if (p->ham_cutoff < p->spam_cutoff)
		return (p->ham_cutoff + p->spam_cutoff) / 2.0;
	return p->spam_cutoff / 2.0;
}

static int
clue_cmp(const void *a, const void *b)
{
	double da = babs(((const struct bayes_clue *)a)->f - 0.5);
	double db = babs(((const struct bayes_clue *)b)->f - 0.5);

	const struct bayes_clue *ca = a, *cb = b;
	size_t n;
	int r;

	if (da != db)
		return da < db ? 1 : -1;
	/* Ties by token octets: the same message, the same clues. */
	n = ca->len < cb->len ? ca->len : cb->len;
	if ((r = memcmp(ca->token, cb->token, n)) != 0)
		return r;
	return ca->len < cb->len ? -1 : ca->len > cb->len;
}

/* Score the tokens in b->tok with the global scope and, when not NULL,
 * the user's scope added. */
static void
combine(struct bayes *b, const struct scope *user, struct bayes_result *r)
{
	const struct bayes_params *p = &b->p;
	double ns, nh, bs, bh, pw, f, n, lnf = 0.0, ln1f = 0.0;
	double lqh, lqs, qh, qs, hw, sw;
	const struct entry *e;
	struct bayes_clue *c;
	size_t i, cnt;
	uint64_t s, h, hash;

	ns = (double)b->global.nspam;
	nh = (double)b->global.nham;
	if (user != NULL) {
		ns += (double)user->nspam;
		nh += (double)user->nham;
	}
	b->nclues = 0;
	r->ntokens = tokenize_count(b->tok);
	if (ns < (double)p->min_learned || nh < (double)p->min_learned ||
	    ns < 1.0 || nh < 1.0) {
		r->untrained = true;
		r->score = unsure_score(p);
		return;
	}
	for (i = 0; i < r->ntokens; i++) {
		hash = tokenize_token_hash(b->tok, i);
		s = h = 0;
		if ((e = scope_find(&b->global, hash)) != NULL) {
			s += e->spam;
			h += e->ham;
		}
		if (user != NULL && (e = scope_find(user, hash)) != NULL) {
			s += e->spam;
			h += e->ham;
		}
		if (s + h == 0 || s + h < p->min_count)
			continue;
		bs = (double)s / ns;
		bh = (double)h / nh;
		pw = bs / (bs + bh);
		n = (double)(s + h);
		f = (p->s * p->x + n * pw) / (p->s + n);
		if (babs(f - 0.5) <= p->min_dev)
			continue;
		c = &b->clues[b->nclues++];
		c->token = tokenize_token(b->tok, i, &c->len);
		c->f = f;
		c->spam = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
		c->ham = h > UINT32_MAX ? UINT32_MAX : (uint32_t)h;
	}
	if (b->nclues > p->max_tokens) {
		qsort(b->clues, b->nclues, sizeof(b->clues[0]), clue_cmp);
		b->nclues = p->max_tokens;
	}
	cnt = b->nclues;
	r->nclues = cnt;
	if (cnt == 0) {
		r->score = unsure_score(p);
		return;
	}
	for (i = 0; i < cnt; i++) {
		/* f is in (0, 1): x > 0 and s > 0 keep it off the ends. */
		lnf += bln(b->clues[i].f);
		ln1f += bln(1.0 - b->clues[i].f);
	}
	/* qh small: the clues are too hammy for chance; qs: too spammy. */
	lqh = lnchi2q(-2.0 * lnf, (unsigned)cnt);
	lqs = lnchi2q(-2.0 * ln1f, (unsigned)cnt);
	qh = bexp(lqh);
	qs = bexp(lqs);
	if (qh >= BAYES_SATURATED || qs >= BAYES_SATURATED)
		r->score = (1.0 + qh - qs) / 2.0;
	else {
		/* Both hypotheses rejected (strong clues both ways): 1 + qh -
		 * qs is 1 to the last digit. Compare how strongly each is
		 * rejected, in orders of magnitude: the ham side must be
		 * conflict_ratio times stronger to win (conflicting clues
		 * are mostly spam dressed up with ordinary words). Scores
		 * stay inside the band that the plain form gives such
		 * pairs, 0.5 +- BAYES_SATURATED / 2. */
		hw = -lqh;
		sw = -lqs * p->conflict_ratio;
		r->score = 0.5 + BAYES_SATURATED / 2.0 * (sw - hw) /
		    (sw + hw);
	}
	if (r->score < 0.0)
		r->score = 0.0;
	if (r->score > 1.0)
		r->score = 1.0;
}

int
bayes_score(struct bayes *b, const uint8_t *msg, size_t len,
    const char *user, struct bayes_result *r)
{
	struct scope *us = NULL;

	memset(r, 0, sizeof(*r));
	b->nclues = 0;
	if (scope_refresh(b, &b->global, true) < 0)
		return -1;
	if (user != NULL && (us = user_scope(b, user)) != NULL) {
		/* Totals first: below user_min the rows are not needed. */
		if (scope_refresh(b, us, false) < 0)
			return -1;
		if (us->nspam + us->nham >= b->p.user_min) {
			if (scope_refresh(b, us, true) < 0)
				return -1;
		} else
			us = NULL;
	}
	tokenize_message(b->tok, msg, len);
	combine(b, us, r);
	r->user = us != NULL;
	r->verdict = r->untrained || r->nclues == 0 ? BAYES_VERDICT_UNSURE :
	    bayes_verdict(&b->p, r->score);
	return 0;
}

int
bayes_score_buf(struct bayes *b, const struct buf *msg, const char *user,
    struct bayes_result *r)
{
	return bayes_score(b, msg->data, msg->len, user, r);
}

/*
 * Learning
 */

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The digest of the tokenized message: SHA-256 of its sorted token
 * hashes, cut to STORE_SPAM_DIGEST_LEN. Tokens, not octets, so that
 * the copy in a mailbox (with headers added after scoring that the
 * tokenizer ignores) is the message that was learned. */
static int
digest(const struct tokenize *t, uint8_t d[STORE_SPAM_DIGEST_LEN])
{
	uint64_t hs[TOKENIZE_TOKENS_MAX];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t i, n = tokenize_count(t);

	for (i = 0; i < n; i++)
		hs[i] = tokenize_token_hash(t, i);
	qsort(hs, n, sizeof(hs[0]), u64_cmp);
	if (EVP_Digest(hs, n * sizeof(hs[0]), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < STORE_SPAM_DIGEST_LEN) {
		log_warnx("bayes: SHA-256 failed");
		return -1;
	}
	memcpy(d, md, STORE_SPAM_DIGEST_LEN);
	return 0;
}

/* Add sign * one message of cls to a scope in memory. */
static void
mem_apply(struct bayes *b, struct scope *sc, enum bayes_class cls,
    int sign)
{
	struct entry *e;
	uint32_t *v;
	uint64_t *tot;
	size_t i, n = tokenize_count(b->tok);

	tot = cls == BAYES_SPAM ? &sc->nspam : &sc->nham;
	if (sign > 0)
		(*tot)++;
	else if (*tot > 0)
		(*tot)--;
	for (i = 0; i < n; i++) {
		e = scope_get(sc, tokenize_token_hash(b->tok, i));
		v = cls == BAYES_SPAM ? &e->spam : &e->ham;
		if (sign > 0 && *v < BAYES_COUNT_MAX)
			(*v)++;
		else if (sign < 0 && *v > 0)
			(*v)--;
	}
	sc->loaded = true;
}

/* Add dspam/dham to every token of the message in scope, in the open
 * transaction. */
static int
db_apply(struct bayes *b, const char *scope, int dspam, int dham)
{
	const uint8_t *tok;
	size_t i, len, n = tokenize_count(b->tok);
	int64_t gen;

	if (store_spam_bump(b->st, scope, dspam, dham, &gen) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		tok = tokenize_token(b->tok, i, &len);
		if (store_spam_token_add(b->st, scope, tok, len, dspam, dham,
		    gen) < 0)
			return -1;
	}
	return 0;
}

/* Learn (unlearn false) or unlearn the tokenized message in one scope
 * inside the open transaction. 0 changed, 1 nothing to do, -1 error. */
static int
db_train(struct bayes *b, const char *scope,
    const uint8_t d[STORE_SPAM_DIGEST_LEN], enum bayes_class cls,
    bool unlearn)
{
	int was, one = cls == BAYES_SPAM;

	if (store_spam_learned(b->st, scope, d, &was) < 0)
		return -1;
	if (unlearn) {
		if (was != one)
			return 1;
		if (db_apply(b, scope, one ? -1 : 0, one ? 0 : -1) < 0 ||
		    store_spam_learned_set(b->st, scope, d, -1, 0) < 0)
			return -1;
		return 0;
	}
	if (was == one)
		return 1;
	if (was >= 0 && db_apply(b, scope, was ? -1 : 0, was ? 0 : -1) < 0)
		return -1;
	if (db_apply(b, scope, one, !one) < 0 ||
	    store_spam_learned_set(b->st, scope, d, one, time(NULL)) < 0)
		return -1;
	return 0;
}

static int
train(struct bayes *b, const uint8_t *msg, size_t len, enum bayes_class cls,
    const char *user, unsigned flags, bool unlearn)
{
	char name[BAYES_SCOPE_MAX + 1];
	uint8_t d[STORE_SPAM_DIGEST_LEN];
	struct scope *us = NULL;
	bool do_global = user == NULL || (flags & BAYES_LEARN_GLOBAL) != 0;
	int r, changed = 0;

	if (user != NULL && !scope_name(user, name)) {
		log_warnx("bayes: unusable user scope");
		return -1;
	}
	tokenize_message(b->tok, msg, len);
	if (b->st == NULL) {
		if (user != NULL && (us = user_scope(b, user)) != NULL)
			mem_apply(b, us, cls, unlearn ? -1 : 1);
		if (do_global)
			mem_apply(b, &b->global, cls, unlearn ? -1 : 1);
		return 0;
	}
	if (digest(b->tok, d) < 0)
		return -1;
	if (store_spam_tx(b->st, "BEGIN IMMEDIATE") < 0)
		return -1;
	if (user != NULL) {
		if ((r = db_train(b, name, d, cls, unlearn)) < 0)
			goto fail;
		changed |= r == 0;
	}
	if (do_global) {
		if ((r = db_train(b, "", d, cls, unlearn)) < 0)
			goto fail;
		changed |= r == 0;
	}
	if (store_spam_tx(b->st, "COMMIT") < 0)
		goto fail;
	/* The copies catch up at the next score (the generation moved). */
	return changed ? 0 : 1;
fail:
	(void)store_spam_tx(b->st, "ROLLBACK");
	return -1;
}

int
bayes_learn(struct bayes *b, const uint8_t *msg, size_t len,
    enum bayes_class cls, const char *user, unsigned flags)
{
	return train(b, msg, len, cls, user, flags, false);
}

int
bayes_unlearn(struct bayes *b, const uint8_t *msg, size_t len,
    enum bayes_class cls, const char *user, unsigned flags)
{
	return train(b, msg, len, cls, user, flags, true);
}

int
bayes_forget(struct bayes *b, const char *user)
{
	char name[BAYES_SCOPE_MAX + 1];
	size_t i;

	if (!scope_name(user, name))
		return -1;
	for (i = 0; i < BAYES_USER_SCOPES; i++)
		if (b->users[i].used && strcmp(b->users[i].name, name) == 0) {
			scope_clear(&b->users[i]);
			b->users[i].used = false;
		}
	if (b->st == NULL)
		return 0;
	return store_spam_forget(b->st, name);
}
