/* queue: the on-disk queue. One file per accepted message,
 * <data_dir>/queue/msg/<id>, holding a small text envelope then the
 * message; written to queue/tmp, fsync'd and renamed into queue/msg (the
 * directory fsync is batched by queue_commit). The queue runner keeps
 * per-recipient progress in queue/state/<id>, appended as it goes. */
#ifndef MOAT_QUEUE_H
#define MOAT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define QUEUE_ID_LEN 24
#define QUEUE_ENVELOPE_MAX (4 * 1024 * 1024)	/* envelope text bound */
#define QUEUE_MAGIC "MOATQ1"

struct queue_envelope {
	char	 id[QUEUE_ID_LEN + 1];
	time_t	 time;
	char	*from;		/* "" for the null reverse-path */
	char	**rcpts;
	size_t	 nrcpts;
	char	*client_ip;
	char	*helo;
	char	*service;
	char	*session;
	char	*auth;		/* the SMTP AUTH identity, NULL: none */
	bool	 smtputf8;
	bool	 eightbit;
	bool	 junk;		/* deliver locally to the Junk folder */
	char	*quarantine;	/* why it is held in quarantine, NULL: not */
	char	*author_dmarc;	/* the From domain's DMARC p= (none,
				   quarantine, reject), NULL: no record */
};

/* A new id: unique across processes on this host (time, pid, counter)
 * and sortable by arrival. */
void queue_id_new(char id[QUEUE_ID_LEN + 1]);
bool queue_id_valid(const char *id);

/* Create queue/{tmp,msg,state} under data_dir. */
int queue_dirs_path(const char *data_dir, const char *sub, char *dst,
    size_t dstlen);

/* Serialize env as the file's envelope part (ends with a blank line). */
int queue_envelope_format(const struct queue_envelope *env, struct buf *out);
/* Parse the envelope at the start of data. On success *body_off_r is the
 * offset of the message. Strings are allocated; queue_envelope_free. */
int queue_envelope_parse(const uint8_t *data, size_t len,
    struct queue_envelope *env, size_t *body_off_r, const char **error_r);
void queue_envelope_free(struct queue_envelope *env);

/* Write envelope + message to queue/tmp/<id>, fsync it, and rename into
 * queue/msg/<id>. Blocking: run it off the event loop. The caller must
 * fsync queue/msg before acknowledging. Returns 0 or -1 (errno set). */
int queue_write(const char *data_dir, const char *id, const struct buf *env,
    const struct buf *msg);
/* queue_write and the fsync of queue/msg: for a message moat makes
 * itself (a DSN, a notice, a report, a release from the quarantine),
 * on disk for good when this returns. Blocking. 0 or -1 (errno set). */
int queue_write_durable(const char *data_dir, const char *id,
    const struct buf *env, const struct buf *msg);
/* Read the whole file at path into data_r (at most max bytes, else
 * EFBIG). Returns 0 or -1 with errno. */
int queue_read_file(const char *path, size_t max, struct buf *data_r);
/* Read a whole queue file (bounded by max). Returns 0 or -1. */
int queue_read(const char *data_dir, const char *id, size_t max,
    struct buf *data_r);
/* Is id in the queue? */
bool queue_exists(const char *data_dir, const char *id);
/* Remove a message and its state. */
int queue_remove(const char *data_dir, const char *id);

/* Per-recipient progress (queue/state/<id>). */
enum queue_rcpt_status { QUEUE_RCPT_PENDING = 0, QUEUE_RCPT_DONE,
	QUEUE_RCPT_FAILED };
struct queue_state {
	unsigned	 attempts;
	time_t		 next_try;	/* 0: now */
	size_t		 nrcpts;
	unsigned char	*status;	/* enum queue_rcpt_status per rcpt */
	char		 last_error[256];
	bool		 warned;	/* a delay DSN was sent */
	bool		 held;		/* moatctl queue hold */
};
int queue_state_load(const char *data_dir, const char *id, size_t nrcpts,
    struct queue_state *st);
void queue_state_free(struct queue_state *st);
/* Append records; not fsync'd: delivery itself is idempotent. */
int queue_state_mark(const char *data_dir, const char *id, size_t rcpt,
    enum queue_rcpt_status status, const char *reason);
int queue_state_defer(const char *data_dir, const char *id,
    unsigned attempts, time_t next_try, const char *reason);
/* Hold a message (no delivery attempts) or release it. */
int queue_state_hold(const char *data_dir, const char *id, bool hold);
/* Hold (or release, and then ask the runner to retry) every message
 * submitted by account (envelope "auth"): the queue of a frozen
 * account. Returns the number changed, or -1. */
int queue_hold_auth(const char *data_dir, const char *account, bool hold);
/* The envelope of a queued message without reading its body (at most
 * QUEUE_ENVELOPE_PEEK bytes). 0 or -1; queue_envelope_free after. */
#define QUEUE_ENVELOPE_PEEK (256 * 1024)
int queue_envelope_peek(const char *data_dir, const char *id,
    struct queue_envelope *env);
/* The same for the queue file at path (a quarantined one), with its
 * stat (st_r may be NULL) and where its message starts. */
struct stat;
int queue_envelope_peek_file(const char *path, struct queue_envelope *env,
    struct stat *st_r, size_t *body_off_r);
/* Record that the delay DSN was sent. */
int queue_state_warned(const char *data_dir, const char *id);
/* Make every deferred message due now (moatctl queue flush). */
int queue_flush_request(const char *data_dir);

#endif
