/* outbound: remote delivery scheduling in the queue runner. Recipients are
 * grouped by destination (the [transport] next hop, or the recipient
 * domain's MX hosts), each destination gets at most [delivery] concurrency
 * connections, and one connection carries every message waiting for the
 * same destination (up to messages_per_connection). Next hops are found
 * with the DNS layer: MX (null MX per RFC 7505, implicit MX when there is
 * none), then A and AAAA of each host, equal preferences shuffled. */
#ifndef MOAT_OUTBOUND_H
#define MOAT_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"
#include "smtp_client.h"

struct dns;
struct outbound;

/* One message's remote recipients. The caller owns everything; results
 * (one per rcpt) are filled in before done is called, exactly once. */
struct outbound_job {
	const char		*id;		/* queue id, for logs */
	const char		*from;
	const char *const	*rcpts;		/* full addresses */
	size_t			 nrcpts;
	struct smtp_client_result *results;
	char			(*remote_mta)[256];	/* per rcpt, or NULL */
	const uint8_t		*data;
	size_t			 len;
	bool			 eightbit;
	bool			 smtputf8;
	void			(*done)(struct outbound_job *job);
	void			*ctx;
	/* private */
	size_t			 remaining;
};

struct outbound *outbound_new(uv_loop_t *loop, const struct config *cfg,
    struct dns *dns, SSL_CTX *client_ctx);
void outbound_submit(struct outbound *ob, struct outbound_job *job);
/* Connections and lookups still running (for a clean stop). */
unsigned outbound_busy(const struct outbound *ob);

#endif
