/* outbreak: outbreak protection. A message's fingerprint is a handful of
 * 64-bit keys: locality-sensitive band keys of its normalised text
 * (MinHash over word shingles, so near-identical texts share keys) and
 * one exact key per attachment (SHA-256). outbreak.c computes them (pure,
 * no I/O); outbreak_table.c counts them in a shared, bounded, file-backed
 * table: per key and over a sliding window, messages and approximate
 * distinct client addresses, sender domains and recipients. A key seen
 * from many sources by many recipients within the window is in outbreak.
 *
 * The table is one fixed-size file mapped MAP_SHARED
 * (<data_dir>/outbreak.map, mode 0600): a header, then groups of
 * OUTBREAK_GROUP slots, each group with a process-shared robust mutex. A
 * key lives in one group (chosen by a keyed hash); a full group evicts
 * its least recently seen entry, entries in outbreak last. The master
 * creates it (outbreak_open(create=true)) before forking; workers use the
 * mapping they inherit (outbreak_shared()); moatctl opens it with
 * create=false. Times are unix seconds passed in by the caller. */
#ifndef MOAT_OUTBREAK_H
#define MOAT_OUTBREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

#define OUTBREAK_BANDS		6	/* text band keys per message */
#define OUTBREAK_ROWS		4	/* MinHash values per band */
#define OUTBREAK_SHINGLE	3	/* words per shingle */
#define OUTBREAK_SHINGLES_MIN	8	/* fewer: too short to fingerprint */
#define OUTBREAK_WORDS_MAX	20000	/* words of text considered */
#define OUTBREAK_WORD_MAX	24	/* longer tokens are ids: one symbol */
#define OUTBREAK_TEXT_MAX	(512 * 1024)	/* normalised text octets */
#define OUTBREAK_PART_MAX	(4 * 1024 * 1024) /* decoded octets per part */
#define OUTBREAK_ATTACH_MAX	8	/* attachment keys per message */
#define OUTBREAK_ATTACH_MIN	256	/* smaller files are not keyed */
#define OUTBREAK_KEYS_MAX	(OUTBREAK_BANDS + OUTBREAK_ATTACH_MAX)
#define OUTBREAK_GROUP		16	/* slots per locked group */
#define OUTBREAK_CAPACITY_MAX	(1u << 20)
#define OUTBREAK_KEY_TEXT	20	/* "t:" + 16 hex digits + NUL */

enum outbreak_kind {
	OUTBREAK_TEXT = 't',		/* a text band key */
	OUTBREAK_ATTACHMENT = 'a',	/* an attachment's SHA-256 */
};

struct outbreak_fp {
	uint64_t	keys[OUTBREAK_KEYS_MAX];
	char		kinds[OUTBREAK_KEYS_MAX];	/* enum outbreak_kind */
	size_t		nkeys;
	size_t		nshingles;	/* of the text; 0: no text keys */
};

/* Normalise text (UTF-8) into space-separated words: ASCII lower-cased,
 * HTML-ish tags and punctuation dropped, every word holding a digit
 * becomes "#" and every word longer than OUTBREAK_WORD_MAX (or 12+ hex
 * digits) becomes "~", so names of numbers, dates, tracking ids and
 * hashes vary without changing the words around them. At most
 * OUTBREAK_WORDS_MAX words are appended. Returns the number of words, or
 * -1 when out reached its maximum. */
long outbreak_normalise(const uint8_t *p, size_t len, struct buf *out);
/* Add the OUTBREAK_BANDS text band keys of normalised text to fp (none
 * when it has fewer than OUTBREAK_SHINGLES_MIN shingles). */
void outbreak_text_keys(const uint8_t *norm, size_t len,
    struct outbreak_fp *fp);
/* The whole fingerprint of a message (len octets, headers and body):
 * the text and HTML parts' normalised words, then the attachment keys.
 * Bounded: OUTBREAK_PART_MAX per part, OUTBREAK_TEXT_MAX in all. */
void outbreak_fingerprint(const uint8_t *msg, size_t len,
    struct outbreak_fp *fp);
/* "t:0123456789abcdef"; buf holds OUTBREAK_KEY_TEXT. */
const char *outbreak_key_format(char kind, uint64_t key, char *buf,
    size_t len);
/* Parse what outbreak_key_format wrote (the "t:" prefix optional).
 * Returns 0 or -1. */
int outbreak_key_parse(const char *s, uint64_t *key);

/* ---- the shared table (outbreak_table.c) ---- */

struct outbreak_table;

struct outbreak_limits {
	unsigned	sources;	/* distinct sources to trip */
	unsigned	recipients;	/* distinct recipients to trip */
	unsigned	window;		/* seconds */
};

/* One message as counted: the client address (text), the envelope
 * sender (its domain is counted) and the envelope recipients. */
struct outbreak_event {
	const char		*ip;
	const char		*sender;
	const char *const	*rcpts;
	size_t			 nrcpts;
};

/* What a key looks like now. sources is the larger of the distinct client
 * addresses and the distinct sender domains. */
struct outbreak_state {
	uint64_t	key;
	char		kind;
	unsigned	messages;
	unsigned	ips, domains, sources, rcpts;
	time_t		first_seen, last_seen;
	time_t		since;		/* in outbreak since, 0: not */
	time_t		released_until;	/* admin release, 0: none */
};

struct outbreak_verdict {
	bool			outbreak;	/* a key is in outbreak */
	bool			tripped;	/* this message tripped it */
	struct outbreak_state	st;		/* the worst key's state */
};

/* Open (create=true: create, or validate and reuse; locks are
 * re-initialised) the table file at path. capacity is rounded up to a
 * power of two (min OUTBREAK_GROUP, 0: 8192, max
 * OUTBREAK_CAPACITY_MAX); with create=false the file's own is used.
 * Returns 0 with *t_r set, or -1 with *error_r set (static text). */
int outbreak_open(const char *path, unsigned capacity, bool create,
    struct outbreak_table **t_r, const char **error_r);
void outbreak_close(struct outbreak_table **t);
int outbreak_chown(struct outbreak_table *t, uid_t uid, gid_t gid);
/* The table the master opened before forking (NULL: none). */
void outbreak_set_shared(struct outbreak_table *t);
struct outbreak_table *outbreak_shared(void);

/* Count one message under every key of fp and report whether any key is
 * in outbreak (sources >= lim->sources and recipients >= lim->recipients
 * within the window, and not released by the admin). Holds one group
 * lock at a time. Returns 0, or -1 when fp has no keys. */
int outbreak_count(struct outbreak_table *t, const struct outbreak_fp *fp,
    const struct outbreak_event *ev, const struct outbreak_limits *lim,
    time_t now, struct outbreak_verdict *v);
/* Call cb for every live key (all: also those not in outbreak) with its
 * state; cb runs with no lock held. O(capacity). */
void outbreak_list(struct outbreak_table *t, const struct outbreak_limits *lim,
    time_t now, bool all,
    void (*cb)(void *ctx, const struct outbreak_state *st), void *ctx);
/* The admin's release of key (all: every key in outbreak): its counts
 * start again from zero and it does not trip again within one window.
 * Returns how many keys were released. */
unsigned outbreak_release(struct outbreak_table *t, uint64_t key, bool all,
    const struct outbreak_limits *lim, time_t now);

#endif
