/* pop3_session_private: what the POP3 session files share: the session
 * state and struct, limits, and the helpers every handler uses.
 * pop3_session.c owns the life cycle, input loop, command table and the
 * AUTHORIZATION-state commands that are not about credentials;
 * pop3_cmd_auth.c USER/PASS/AUTH and opening the maildrop in the thread
 * pool; pop3_cmd.c the TRANSACTION commands, streaming RETR/TOP and the
 * UPDATE state. */
#ifndef MOAT_POP3_SESSION_PRIVATE_H
#define MOAT_POP3_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conn.h"
#include "mailbox.h"
#include "pop3_parser.h"
#include "pop3_session.h"
#include "auth_run.h"
#include "sasl.h"

#define POP3_IN_MAX (64 * 1024)		/* buffered input incl pipelining */
#define POP3_REPLY_MAX 512		/* one status line we send */
#define POP3_SEND_CHUNK 32768		/* file octets per RETR/TOP write */
#define POP3_PATH_MAX 4096

enum pop3_state {
	POP3_STATE_TLS_WAIT = 0,	/* TLS handshake (pop3s or STLS) */
	POP3_STATE_AUTHORIZATION,	/* RFC 1939 3 */
	POP3_STATE_AUTH,		/* in a SASL exchange */
	POP3_STATE_BUSY,		/* a thread-pool step is running */
	POP3_STATE_TRANSACTION,
	POP3_STATE_SENDING,		/* streaming RETR/TOP output */
	POP3_STATE_CLOSED,
	POP3_STATE_COUNT
};

struct pop3_session {
	struct session		 base;		/* first: see session.h */
	struct pop3_server	*srv;
	enum listen_service	 service;
	enum pop3_state		 state;
	uv_timer_t		 auth_timer;
	bool			 busy;		/* pool job or delay running */
	bool			 quit;
	bool			 discard_line;	/* skip to LF after overflow */
	unsigned		 ncommands;
	unsigned		 nerrors;
	unsigned		 auth_failures;
	enum pop3_cmd		 cur_cmd;	/* for the log */

	/* AUTHORIZATION */
	bool			 have_user;
	char			 user[SASL_USER_MAX + 1];	/* USER arg */
	char			 auth_user[SASL_USER_MAX + 1];	/* logged in */
	struct sasl_session	*sasl;
	struct sasl_lookup	 sasl_lookup;
	struct auth_service	 auth_service;
	struct sasl_cbind	 sasl_cbind;

	/* TRANSACTION: the maildrop, fixed at login (RFC 1939 5) */
	char			 maildir[POP3_PATH_MAX];
	int			 lock_fd;
	struct mailbox		*mb;
	uint32_t		 uidvalidity;
	struct mailbox_msg	*msgs;
	size_t			 nmsgs;
	bool			*deleted;
	size_t			 ndeleted;
	uint64_t		 total_size;	/* of the undeleted ones */

	/* SENDING */
	int			 send_fd;
	bool			 send_top;
	uint64_t		 top_lines;	/* body lines TOP may send */
	uint64_t		 body_lines;	/* body lines sent */
	bool			 in_body;
	bool			 line_start;
	bool			 prev_cr;
	size_t			 line_len;	/* non-CR octets in the line */
};

void pop3_enter_state(struct pop3_session *s, enum pop3_state st);
bool pop3_is_tls(const struct pop3_session *s);
/* Queue one status line: "+OK text" or "-ERR text"; logged with the
 * session id and the command it answers. */
void pop3_reply(struct pop3_session *s, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pop3_close(struct pop3_session *s);
/* Count a client error; past the limit, -ERR and close. */
void pop3_count_error(struct pop3_session *s);
void pop3_timer_arm(struct pop3_session *s);
void pop3_free(struct pop3_session *s);
/* Run the input loop again (after an asynchronous step). */
void pop3_session_resume(struct pop3_session *s);
/* Release the maildrop: index, lock, message list (no expunge). */
void pop3_maildrop_release(struct pop3_session *s);

/* pop3_cmd_auth.c */
void pop3_cmd_user(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_pass(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_auth(struct pop3_session *s, const char *args, size_t len);
void pop3_auth_line(struct pop3_session *s, const char *line, size_t len);
/* May the client send a password now (TLS, or the loopback rule)? */
bool pop3_cleartext_ok(const struct pop3_session *s);
/* The SASL mechanisms to list in CAPA ("" when none). */
void pop3_auth_mechs(struct pop3_session *s, char *out, size_t outlen);

/* pop3_cmd.c */
void pop3_cmd_stat(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_list(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_uidl(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_retr(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_top(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_dele(struct pop3_session *s, const char *args, size_t len);
void pop3_cmd_rset(struct pop3_session *s, const char *args, size_t len);
/* QUIT in TRANSACTION: the UPDATE state (RFC 1939 6). */
void pop3_update(struct pop3_session *s);
/* The connection drained: send the next RETR/TOP chunk. */
void pop3_send_more(struct pop3_session *s);

#endif
