/* dynscreen: the dynamic screening state of moatd, shared by every process
 * (master, workers, queue runner, and moatctl while the server runs) and
 * kept across restarts: per-IP (or per-network) and per-account counters
 * over sliding windows, IP bans and account blocks, the postmaster
 * notification rate limit and the "static rules changed" generation.
 *
 * It all lives in one fixed-size file mapped MAP_SHARED
 * (<data_dir>/screen.map, mode 0600): a header, then an IP table and an
 * account table, both open-addressing hash tables keyed with a random
 * per-file SipHash key (attackers cannot choose colliding keys). Each key
 * may live in one of two groups of 16 slots; a full pair of groups evicts
 * its least recently seen entry that carries no active ban. Writers take
 * one of 256 process-shared robust mutexes per table, chosen by the key's
 * groups, so workers touching different keys rarely contend.
 *
 * Process safety: every function below may be called concurrently from any
 * process (and thread) that has the mapping, except dyn_open(create=true),
 * which the master calls once before forking, when nobody else uses the
 * file. A process dying while holding a stripe lock is recovered by the
 * next locker (robust mutex); the entries it was writing may keep a
 * half-updated counter, nothing worse.
 *
 * Times are unix seconds passed in by the caller (now), so tests can drive
 * the clock; they are stored as 32-bit unsigned values (good until 2106).
 * Nothing here does disk I/O after dyn_open except dyn_sync(). */
#ifndef MOAT_DYNSCREEN_H
#define MOAT_DYNSCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define DYN_IP_CAPACITY_DEFAULT		262144
#define DYN_ACCT_CAPACITY_DEFAULT	65536
/* A ban that ended less than this long ago makes the next one longer. */
#define DYN_OFFENCE_MEMORY		(24 * 3600)
/* dyn_ip_ban_until()/dyn_acct_block_until() with no end. */
#define DYN_BAN_FOREVER			((time_t)UINT32_MAX)
/* Distinct IPs remembered per account and kind; the count saturates here. */
#define DYN_DISTINCT_MAX		32
/* Notification topics share this many slots; at most this many
 * notifications pass per hour in total. */
#define DYN_NOTIFY_SLOTS		1024
#define DYN_NOTIFY_MAX_PER_HOUR		20
/* Account names longer than this are keyed by their full text but stored
 * and listed truncated. */
#define DYN_ACCT_NAME_MAX		128
/* Enough for dyn_ip_format(): an IPv6 address plus "/128". */
#define DYN_IP_TEXT_MAX			52
/* Enough for any key text handed to the list callbacks. */
#define DYN_KEY_TEXT_MAX		(DYN_ACCT_NAME_MAX + 1)

struct dynscreen;

/* An IP table key: an address with its host bits beyond prefix cleared.
 * Only family, the first 4 (AF_INET) or 16 (AF_INET6) bytes of addr and
 * prefix are significant. Build it with dyn_ip_key(). */
struct dyn_ip {
	int	 family;	/* AF_INET or AF_INET6 */
	uint8_t	 addr[16];
	uint8_t	 prefix;	/* 0..32 or 0..128 */
};

enum dyn_ip_metric {
	DYN_UNKNOWN_RCPT = 0,	/* RCPT TO an address we do not have */
	DYN_AUTH_FAIL,		/* failed logins from this address */
	DYN_CONNECT,		/* connections */
	DYN_PROTO_ERROR,	/* protocol errors, junk commands */
	DYN_RELAY,		/* relay attempts refused */
	DYN_IP_METRIC_COUNT
};

enum dyn_acct_metric {
	DYN_ACCT_AUTH_FAIL = 0,		/* failed logins for this account */
	DYN_ACCT_MSG_MIN,		/* messages submitted, per minute */
	DYN_ACCT_MSG_HOUR,
	DYN_ACCT_MSG_DAY,
	DYN_ACCT_RCPT_MIN,		/* recipients submitted */
	DYN_ACCT_RCPT_HOUR,
	DYN_ACCT_RCPT_DAY,
	DYN_ACCT_LOCAL_MSG_MIN,		/* messages to local recipients */
	DYN_ACCT_LOCAL_MSG_HOUR,
	DYN_ACCT_LOCAL_MSG_DAY,
	DYN_ACCT_FIRST_RCPT_DAY,	/* recipients never written to before */
	DYN_ACCT_METRIC_COUNT
};

enum dyn_distinct {
	DYN_DISTINCT_FAIL_IPS = 0,	/* IPs with a failed login */
	DYN_DISTINCT_LOGIN_IPS,		/* IPs with a successful login */
	DYN_DISTINCT_COUNT
};

/* A ban (IP) or block (account) as stored. */
struct dyn_ban {
	time_t		 start, until;	/* until: DYN_BAN_FOREVER for no end */
	unsigned	 offences;	/* earlier bans counted for doubling */
	unsigned	 count;		/* the counter value that caused it */
	char		 reason[64];
	bool		 shadow;	/* recorded only, not enforced */
};

/* Open (create=true: create, or validate and reuse) the file at path and
 * map it. Capacities are rounded up to a power of two (minimum 16; 0
 * means the default; at most 2^22 IPs and 2^20 accounts); with
 * create=false they are ignored and the file's own are used. The file
 * takes about 200 bytes per IP slot and 920 per account slot (113 MB for
 * the defaults), allocated on disk up front so that no worker can fault on
 * a full disk later.
 *
 * create=true is for the master before it forks: a file with the wrong
 * magic, layout version, size or capacities is replaced by a fresh one
 * (logged); a valid one is reused as is, so bans survive a restart, and its
 * locks are re-initialised (a crashed run may have left one held). The file
 * is created mode 0600.
 * create=false (moatctl) requires an existing valid file and touches no
 * lock state.
 * Returns 0 with *d_r set, or -1 with *error_r set (static text; errno
 * describes system call failures). Costs a file open, an mmap and, on
 * create, initialising a few hundred mutexes. */
int dyn_open(const char *path, unsigned ip_capacity, unsigned acct_capacity,
    bool create, struct dynscreen **d_r, const char **error_r);
/* Unmap and free; NULL-safe, sets *d = NULL. Does not msync. */
void dyn_close(struct dynscreen **d);
/* msync the whole mapping (the master at shutdown). Returns 0 or -1
 * (errno set). */
int dyn_sync(struct dynscreen *d);
/* fchown the file (the master creates it as root, then hands it to the
 * unprivileged user so moatctl can open it). Returns 0 or -1 (errno). */
int dyn_chown(struct dynscreen *d, uid_t uid, gid_t gid);
/* Free entries idle for longer than twice their longest window (a
 * two-bucket window reads zero by then), with no active ban and no ban that
 * ended within DYN_OFFENCE_MEMORY; also clears the fast-path mark of
 * expired bans. Scans both tables one group at a time (one stripe lock per
 * group of 16 slots), about a millisecond for the default capacities.
 * Returns the number of entries freed. */
unsigned dyn_expire(struct dynscreen *d, time_t now);

/* Parse a numeric IPv4 or IPv6 address (::ffff:a.b.c.d counts as IPv4) and
 * keep its first prefix4 (IPv4) or prefix6 (IPv6) bits. Returns 0, or -1 if
 * ip_text is not an address or a prefix is too long. */
int dyn_ip_key(const char *ip_text, unsigned prefix4, unsigned prefix6,
    struct dyn_ip *k);
/* "192.0.2.0/24", "2001:db8::/64", or "192.0.2.7" when the prefix is the
 * full length. Always NUL-terminates (truncating) when len > 0; returns
 * buf. */
const char *dyn_ip_format(const struct dyn_ip *k, char *buf, size_t len);
/* "unknown-rcpt", "auth-fail", ...; "?" for an out-of-range value. */
const char *dyn_ip_metric_name(enum dyn_ip_metric m);
const char *dyn_acct_metric_name(enum dyn_acct_metric m);

/* Sliding window counters. Each key and metric keeps the count of the
 * current window-aligned bucket and of the previous one; the estimate is
 * prev * (1 - elapsed_in_current / window) + cur, rounded. window_s must be
 * the same on every call for a metric (0 is taken as 1).
 *
 * dyn_ip_add adds n and returns the estimate after adding, or 0 if the key
 * could not be recorded (its groups are full of active bans). dedupe, when
 * non-zero, is a fingerprint of the event (e.g. a hash of user and
 * password): if it matches one of the last 4 fingerprints recorded for the
 * key and metric within the window, nothing is added and the current
 * estimate is returned. One stripe lock, a hash and a few cache lines;
 * may evict the least recently seen unbanned entry of the key's groups. */
unsigned dyn_ip_add(struct dynscreen *d, const struct dyn_ip *k,
    enum dyn_ip_metric m, unsigned n, unsigned window_s, uint64_t dedupe,
    time_t now);
/* The estimate without adding; 0 for an unknown key. Never inserts. */
unsigned dyn_ip_peek(struct dynscreen *d, const struct dyn_ip *k,
    enum dyn_ip_metric m, unsigned window_s, time_t now);
/* The same for accounts; the account name is compared case-insensitively
 * (ASCII). */
unsigned dyn_acct_add(struct dynscreen *d, const char *account,
    enum dyn_acct_metric m, unsigned n, unsigned window_s, uint64_t dedupe,
    time_t now);
unsigned dyn_acct_peek(struct dynscreen *d, const char *account,
    enum dyn_acct_metric m, unsigned window_s, time_t now);
/* Record that ip was seen for account (kind: failed or successful login)
 * and return how many distinct IPs were seen within window_s, at most
 * DYN_DISTINCT_MAX (the oldest is forgotten when the set is full). ip ==
 * NULL only reads the count. Returns 0 if the account could not be
 * recorded. One stripe lock. */
unsigned dyn_acct_distinct_ip(struct dynscreen *d, const char *account,
    enum dyn_distinct kind, const struct dyn_ip *ip, unsigned window_s,
    time_t now);

/* Ban k for base_s * 2^offences seconds, capped at max_s (max_s < base_s
 * means base_s), where offences is 0 for a first ban and one more than the
 * previous ban's when that one ended less than DYN_OFFENCE_MEMORY before
 * now: a repeat offender's ban doubles, after a quiet day it starts again
 * at base_s. count is the counter value that triggered it (for listing).
 * A shadow ban is recorded (and listed) but dyn_ip_banned() does not
 * enforce it.
 * Returns 1 if the ban was placed, 0 if an active ban was already in place
 * (an enforced one, or a shadow one when shadow is asked; it is left as
 * is), -1 if the key could not be recorded. *out (may be NULL) receives
 * the ban in force after the call. */
int dyn_ip_ban(struct dynscreen *d, const struct dyn_ip *k,
    const char *reason, unsigned count, unsigned base_s, unsigned max_s,
    bool shadow, time_t now, struct dyn_ban *out);
/* The admin's ban (moatctl ban add): enforced until the given time
 * (DYN_BAN_FOREVER for no end), replacing any ban of k; the offence count
 * is kept. Returns 0, or -1 if until <= now or the key could not be
 * recorded. */
int dyn_ip_ban_until(struct dynscreen *d, const struct dyn_ip *k,
    time_t until, const char *reason, time_t now);
/* Remove k's ban and forget its counters and offences, so it is not banned
 * again at once. Returns true if an active ban (enforced or shadow) was
 * removed. */
bool dyn_ip_unban(struct dynscreen *d, const struct dyn_ip *k, time_t now);
/* The connect-time check: true if an enforced ban of k is active, with
 * *out filled. If only a shadow ban is active it returns false and fills
 * *out with shadow = true (the caller logs "would have refused"); with no
 * ban *out is zeroed (until == 0). out may be NULL.
 * Cost: one SipHash of the key and a lock-free scan of 32 four-byte tags
 * (two cache lines); only a key with a ban mark takes the stripe lock. */
bool dyn_ip_banned(struct dynscreen *d, const struct dyn_ip *k, time_t now,
    struct dyn_ban *out);
/* The prefix lengths of family (AF_INET, AF_INET6) that have carried an
 * IP ban, longest first, into out[0..max): a connect check looks the
 * client up at each (an admin may ban a /26 while counting is per /32).
 * Lock-free; returns how many. */
unsigned dyn_ban_prefixes(struct dynscreen *d, int family, uint8_t *out,
    unsigned max);

/* Account blocks (password spraying); the same shapes and returns as the
 * IP functions above. An account freeze is not here: it is in SQL. */
int dyn_acct_block(struct dynscreen *d, const char *account,
    const char *reason, unsigned count, unsigned base_s, unsigned max_s,
    bool shadow, time_t now, struct dyn_ban *out);
int dyn_acct_block_until(struct dynscreen *d, const char *account,
    time_t until, const char *reason, time_t now);
bool dyn_acct_unblock(struct dynscreen *d, const char *account, time_t now);
bool dyn_acct_blocked(struct dynscreen *d, const char *account, time_t now,
    struct dyn_ban *out);

/* Call cb for every active ban, enforced or shadow (kind "ip" or
 * "account", key as dyn_ip_format() or the stored account name). cb runs
 * with no lock held and may call any dyn_ function. Walks both tables
 * (O(capacity)); for moatctl and the master, not the hot path. */
void dyn_ban_list(struct dynscreen *d, time_t now,
    void (*cb)(void *ctx, const char *kind, const char *key,
    const struct dyn_ban *ban), void *ctx);
/* Call cb for every non-zero counter estimate. Windows are not stored, so
 * the caller gives each metric's window (0: skip that metric; a NULL
 * array: skip that table). Same cost and locking as dyn_ban_list. */
void dyn_counter_list(struct dynscreen *d, time_t now,
    const unsigned ip_window_s[DYN_IP_METRIC_COUNT],
    const unsigned acct_window_s[DYN_ACCT_METRIC_COUNT],
    void (*cb)(void *ctx, const char *kind, const char *key,
    const char *metric, unsigned estimate), void *ctx);

/* Postmaster notifications without flooding: true at most once per
 * interval_s for a topic (topics hash into DYN_NOTIFY_SLOTS slots, so a
 * collision may suppress one, never let more through) and at most
 * DYN_NOTIFY_MAX_PER_HOUR times per sliding hour in total. One lock. */
bool dyn_notify_allow(struct dynscreen *d, const char *topic_key,
    unsigned interval_s, time_t now);

/* The static rules generation: dyn_rules_bump() after changing screening
 * rules in SQL; workers compare dyn_rules_generation() with the value they
 * loaded and reload when it differs. Lock-free atomics. */
uint64_t dyn_rules_generation(struct dynscreen *d);
void dyn_rules_bump(struct dynscreen *d);

#endif
