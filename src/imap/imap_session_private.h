/* imap_session_private: what the IMAP session files share: the session
 * struct and state, limits, and the helpers every handler uses.
 * imap_session.c owns the life cycle, input loop, command table, replies,
 * the selected-mailbox refresh and IDLE; imap_cmd_auth.c the
 * not-authenticated commands and SASL in the thread pool;
 * imap_cmd_mailbox.c folders, LIST, STATUS, SELECT; imap_cmd_fetch.c
 * FETCH; imap_cmd_store.c STORE, EXPUNGE, COPY, MOVE, APPEND;
 * imap_cmd_search.c SEARCH, ESEARCH answers and the search result
 * variable "$" (SEARCHRES); imap_cmd_sort.c SORT and THREAD;
 * imap_cmd_quota.c GETQUOTA, GETQUOTAROOT and SETQUOTA. */
#ifndef MOAT_IMAP_SESSION_PRIVATE_H
#define MOAT_IMAP_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "imap_parser.h"
#include "imap_session.h"
#include "mailbox.h"
#include "auth_run.h"
#include "sasl.h"

#define IMAP_TAG_MAX		128	/* octets of a tag we answer */
#define IMAP_PATH_MAX		4096
#define IMAP_SESSIONS_PER_IP	50	/* per worker: NO [LIMIT] / BYE */
#define IMAP_SESSIONS_PER_USER	20	/* per worker, per account */
#define IMAP_AUTH_IDLE_SECS	1800	/* RFC 9051 5.4: at least 30 min */
#define IMAP_IDLE_POLL_MS	500	/* index poll while in IDLE */
#define IMAP_FETCH_CHUNK	(256 * 1024)	/* output, then wait drain */
#define IMAP_MSG_MAX		(256u * 1024 * 1024)	/* file we load */
#define IMAP_NAME_MAX		200	/* mailbox name, octets on disk */
#define IMAP_FOLDERS_MAX	10000	/* folders LIST looks at */
#define IMAP_IN_SLACK		(2 * IMAP_LINE_MAX_AUTH)

enum imap_state {
	IMAP_STATE_TLS_WAIT = 0,	/* handshake (imaps or STARTTLS) */
	IMAP_STATE_NOT_AUTH,		/* RFC 9051 3.1 */
	IMAP_STATE_SASL,		/* in an AUTHENTICATE exchange */
	IMAP_STATE_AUTH,		/* authenticated, nothing selected */
	IMAP_STATE_SELECTED,
	IMAP_STATE_IDLE,		/* IDLE: waiting for DONE */
	IMAP_STATE_LOGOUT,
	IMAP_STATE_COUNT
};

struct imap_session {
	struct session		 base;		/* first: see session.h */
	struct imap_server	*srv;
	enum listen_service	 service;
	enum imap_state		 state;
	uv_timer_t		 aux_timer;	/* auth delay, IDLE poll */
	bool			 busy;		/* async step: input waits */
	bool			 rev2;		/* ENABLE IMAP4rev2 */
	bool			 condstore;	/* RFC 7162 3.1: enabled */
	bool			 qresync;	/* ENABLE QRESYNC */
	unsigned		 ncommands;
	unsigned		 nerrors;
	unsigned		 auth_failures;
	struct imap_parser	*parser;
	struct imap_limits	 limits;

	/* the command being answered */
	char			 tag[IMAP_TAG_MAX + 1];
	enum imap_cmd		 cmd;
	size_t			 cmd_consumed;	/* input to drop when done */
	uint64_t		 cmd_start_ms;

	/* authentication */
	char			 user[SASL_USER_MAX + 1];
	struct sasl_session	*sasl;
	struct sasl_lookup	 sasl_lookup;
	struct auth_service	 auth_service;
	struct sasl_cbind	 sasl_cbind;
	char			 maildir[IMAP_PATH_MAX];

	/* the selected mailbox */
	struct mailbox		*mb;
	char			 folder[IMAP_NAME_MAX + 1];	/* on disk */
	bool			 readonly;
	uint32_t		 uidvalidity;
	struct mailbox_msg	*msgs;
	size_t			 nmsgs;
	/* the search result variable "$" (RFC 9051 6.4.4.1): UIDs in
	 * ascending order, so expunged messages drop out by themselves */
	uint32_t		*saved;
	size_t			 nsaved;
	struct imap_seq_range	*dollar;	/* "$" resolved for a command */

	/* FETCH streaming */
	struct imap_fetch_state	*fetch;
};

/* imap_session.c */
void imap_enter_state(struct imap_session *s, enum imap_state st);
bool imap_is_tls(const struct imap_session *s);
/* Write the tagged reply for the current command ("OK", "NO", "BAD"),
 * after the mailbox updates the command allows; logs the outcome. code
 * is a response code without brackets, or NULL. */
void imap_tagged(struct imap_session *s, const char *result,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* tagged BAD/NO that counts as a client error */
void imap_bad(struct imap_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void imap_parse_failed(struct imap_session *s,
    const struct imap_parse_error *err);
void imap_close(struct imap_session *s);
void imap_count_error(struct imap_session *s);
void imap_timer_arm(struct imap_session *s);
/* An asynchronous step ended: drop the command's input, read on. */
void imap_cmd_finish(struct imap_session *s);
/* Sync the selected mailbox and send the untagged changes (EXPUNGE,
 * EXISTS, FETCH FLAGS); callers make sure EXPUNGE is allowed now. */
void imap_refresh(struct imap_session *s);
/* Leave the selected state (nothing is expunged). */
void imap_deselect(struct imap_session *s);
/* The IMAP capability list for the current state into out. */
void imap_capabilities(struct imap_session *s, char *out, size_t outlen);
uint64_t imap_now_ms(struct imap_session *s);
/* An asynchronous step found the connection gone: free the session. */
void imap_session_gone(struct imap_session *s);

/* imap_cmd_auth.c */
void imap_cmd_capability(struct imap_session *s, struct imap_command *c);
void imap_cmd_noop(struct imap_session *s, struct imap_command *c);
void imap_cmd_logout(struct imap_session *s, struct imap_command *c);
void imap_cmd_starttls(struct imap_session *s, struct imap_command *c);
void imap_cmd_login(struct imap_session *s, struct imap_command *c);
void imap_cmd_authenticate(struct imap_session *s, struct imap_command *c);
void imap_cmd_enable(struct imap_session *s, struct imap_command *c);
void imap_cmd_id(struct imap_session *s, struct imap_command *c);
void imap_sasl_line(struct imap_session *s, const char *line, size_t len);
bool imap_cleartext_ok(const struct imap_session *s);
void imap_auth_mechs(struct imap_session *s, char *out, size_t outlen);

/* imap_cmd_mailbox.c */
void imap_cmd_list(struct imap_session *s, struct imap_command *c);
void imap_cmd_namespace(struct imap_session *s, struct imap_command *c);
void imap_cmd_create(struct imap_session *s, struct imap_command *c);
void imap_cmd_delete(struct imap_session *s, struct imap_command *c);
void imap_cmd_rename(struct imap_session *s, struct imap_command *c);
void imap_cmd_subscribe(struct imap_session *s, struct imap_command *c);
void imap_cmd_status(struct imap_session *s, struct imap_command *c);
void imap_cmd_select(struct imap_session *s, struct imap_command *c);
void imap_cmd_close(struct imap_session *s, struct imap_command *c);
/* Create the special-use folders that are missing (first login). */
void imap_special_folders(struct imap_session *s);
/* A client mailbox name as the folder name on disk ("INBOX", "Sent",
 * "Archive.2024"). Returns 0, or -1 with a reply text in *error_r. */
int imap_folder_from_client(struct imap_session *s,
    const struct imap_mailbox *mb, char *out, size_t outlen,
    const char **error_r);
/* Does the folder exist (INBOX always)? */
bool imap_folder_exists(struct imap_session *s, const char *folder);
/* The directory of a folder (the Maildir for INBOX). */
int imap_folder_dir(struct imap_session *s, const char *folder, char *out,
    size_t outlen);

/* imap_cmd_fetch.c */
void imap_cmd_fetch(struct imap_session *s, struct imap_command *c);
/* The connection drained: continue a FETCH. */
void imap_fetch_more(struct imap_session *s);
void imap_fetch_free(struct imap_session *s);
/* "* VANISHED (EARLIER) uids": the UIDs (of set, when not NULL) expunged
 * after modseq (RFC 7162 3.2.5.2, 3.2.6). */
void imap_vanished_earlier(struct imap_session *s,
    const struct imap_seqset *set, uint64_t modseq);
/* Read a message file into out with CRLF line ends (bare LF becomes
 * CRLF). Returns 0, or -1 (gone or unreadable). */
int imap_msg_load(struct imap_session *s, const struct mailbox_msg *m,
    struct buf *out);

/* imap_cmd_store.c */
void imap_cmd_store(struct imap_session *s, struct imap_command *c);
void imap_cmd_expunge(struct imap_session *s, struct imap_command *c);
void imap_cmd_copy(struct imap_session *s, struct imap_command *c);
void imap_cmd_append(struct imap_session *s, struct imap_command *c);
/* Remove the \Deleted messages (of set when not NULL). Returns 0/-1. */
int imap_expunge_deleted(struct imap_session *s, const bool *set);

/* imap_cmd_search.c */
void imap_cmd_search(struct imap_session *s, struct imap_command *c);
/* Run a parsed search over the selected mailbox: hit[i] for each message
 * that matches. Returns the number of hits. */
size_t imap_search_run(struct imap_session *s, const struct imap_search *se,
    bool *hit);

/* The search result variable "$" (RFC 9051 6.4.4.1). Save the result of
 * a SEARCH or SORT with RETURN (SAVE ...): v[0..n) are the hits in the
 * answer's order, UIDs (uid) or sequence numbers; with MIN and/or MAX
 * but neither ALL nor COUNT only the first and/or last are kept. */
void imap_saved_store(struct imap_session *s, unsigned ret, bool uid,
    const uint32_t *v, size_t n);
/* "$" becomes the empty set (a SEARCH ... SAVE that answered NO). */
void imap_saved_clear(struct imap_session *s);
/* Is the message with this UID in "$"? */
bool imap_saved_has(const struct imap_session *s, uint32_t uid);
/* When set is "$", point it at the saved messages still in the view:
 * their UIDs (uid) or sequence numbers, ascending; no range when
 * nothing is saved. The ranges belong to the session until the next
 * call or the end of the selection. */
void imap_saved_resolve(struct imap_session *s, bool uid,
    struct imap_seqset *set);
/* Append "* ESEARCH (TAG "t") [UID] [MIN a] [MAX b] [COUNT n] [ALL set]"
 * (no CRLF) for ret (IMAP_SEARCH_RET_*) over v[0..n) in the answer's
 * order: MIN and MAX are its first and last. Returns 0 or -1 (full). */
int imap_esearch_append(struct imap_session *s, bool uid, unsigned ret,
    const uint32_t *v, size_t n, struct buf *out);

/* imap_cmd_quota.c */
void imap_cmd_getquota(struct imap_session *s, struct imap_command *c);
void imap_cmd_getquotaroot(struct imap_session *s, struct imap_command *c);
void imap_cmd_setquota(struct imap_session *s, struct imap_command *c);
/* May a message of size octets be added to the account (its quota)? */
bool imap_quota_allows(struct imap_session *s, uint64_t size);

/* imap_cmd_sort.c */
void imap_cmd_sort(struct imap_session *s, struct imap_command *c);
void imap_cmd_thread(struct imap_session *s, struct imap_command *c);

#endif
