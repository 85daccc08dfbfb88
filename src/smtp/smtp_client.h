/* smtp_client: one outbound SMTP connection (RFC 5321 as a client): greeting,
 * EHLO (HELO fallback), opportunistic or required STARTTLS (RFC 3207) with
 * certificate verification per policy, AUTH PLAIN to a smarthost (only
 * under TLS), then any number of messages, each with MAIL/RCPT/DATA (or
 * BDAT when CHUNKING is offered), pipelined when PIPELINING is offered.
 * Per-recipient results come back through a callback. */
#ifndef MOAT_SMTP_CLIENT_H
#define MOAT_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"

#define SMTP_CLIENT_TEXT_MAX 256

struct smtp_client;

struct smtp_client_opts {
	const char	*helo;		/* our host name */
	const char	*host;		/* server name: SNI and verification */
	enum tls_policy	 tls;
	SSL_CTX		*tls_ctx;	/* client context */
	bool		 implicit_tls;	/* port 465 style */
	const char	*auth_user;	/* smarthost credentials or NULL */
	const char	*auth_pass;
	unsigned	 connect_timeout;	/* seconds */
	unsigned	 timeout;		/* seconds per reply */
};

/* The outcome of one recipient, or of the whole attempt. */
struct smtp_client_result {
	int	 code;		/* SMTP reply code; 0: no reply (network) */
	bool	 perm;		/* permanent: do not retry */
	char	 text[SMTP_CLIENT_TEXT_MAX];	/* reply or local reason */
};

struct smtp_client_msg {
	const char		*from;		/* "" for <> */
	const char *const	*rcpts;
	size_t			 nrcpts;
	const uint8_t		*data;		/* CRLF lines, not stuffed */
	size_t			 len;
	bool			 eightbit;
	bool			 smtputf8;
	struct smtp_client_result *results;	/* nrcpts, filled in */
};

/* Connection state changes. ready: the session can take a message
 * (after greeting/EHLO/TLS/AUTH), or an error ended it (err filled in,
 * and the client is about to be freed: do not use it after closed). */
struct smtp_client_cbs {
	void (*ready)(void *ctx, struct smtp_client *cl);
	void (*sent)(void *ctx, struct smtp_client *cl,
	    struct smtp_client_msg *msg);	/* results are filled in */
	void (*closed)(void *ctx, struct smtp_client *cl,
	    const struct smtp_client_result *err);
};

struct smtp_client *smtp_client_new(uv_loop_t *loop, const char *ip,
    uint16_t port, const struct smtp_client_opts *opts,
    const struct smtp_client_cbs *cbs, void *ctx);
/* Send one message; only after ready or sent. */
void smtp_client_send(struct smtp_client *cl, struct smtp_client_msg *msg);
/* Can it take a message now (connected, idle, not closing)? */
bool smtp_client_ready(const struct smtp_client *cl);
/* QUIT and close; closed follows (with err code 0). */
void smtp_client_quit(struct smtp_client *cl);
/* TLS description for logs and the result ("none" without TLS). */
const char *smtp_client_tls_info(const struct smtp_client *cl);

/* A client SSL_CTX: TLS 1.2+, the system trust store for verification. */
SSL_CTX *smtp_client_tls_ctx_new(char *err, size_t errlen);

#endif
