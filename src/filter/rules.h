/* rules: the admin's content-filter rules. A parsed rule file
 * (rules_parse.h) is an ordered list of rules, each a condition tree
 * (and/or/not over tests of headers, body text, attachments, size,
 * envelope, direction, authentication results, spam score, virus, client
 * address) and a list of actions. This file owns the in-memory form,
 * evaluation against one message (pure: no I/O, safe in a pool thread)
 * and the message edits the actions make (headers, subject tag,
 * stripping attachments). The SMTP stage that loads, reloads and applies
 * them is smtp/smtp_filter_rules.c. */
#ifndef MOAT_RULES_H
#define MOAT_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cidr.h"

#define RULES_FILE_MAX		(1024 * 1024)	/* octets of a rule file */
#define RULES_MAX		1000		/* rules per file */
#define RULES_NAME_MAX		64		/* a rule's name */
#define RULES_STRING_MAX	1024		/* a quoted string */
#define RULES_CONDS_MAX		64		/* tests per rule */
#define RULES_DEPTH_MAX		16		/* nested not/( ) */
#define RULES_ACTIONS_MAX	16		/* actions per rule */
#define RULES_ADDRS_MAX		16		/* copy/redirect addresses */
#define RULES_CIDRS_MAX		32		/* networks of one ip test */
#define RULES_BODY_MAX		(1024 * 1024)	/* body text searched */
#define RULES_HEADER_MAX	(64 * 1024)	/* one unfolded header */
#define RULES_HITS_MAX		RULES_MAX
#define RULES_ATTACH_STRIP_MAX	256		/* parts stripped at once */

/* What a test looks at. */
enum rules_subject {
	RS_HEADER = 0,		/* arg: field name */
	RS_BODY,		/* decoded text of the text parts */
	RS_ATT_NAME,		/* any attachment's file name */
	RS_ATT_TYPE,		/* any attachment's declared/detected type */
	RS_ATT_SIZE,		/* any attachment's decoded size */
	RS_SIZE,		/* the message */
	RS_SENDER,		/* envelope MAIL FROM */
	RS_RECIPIENT,		/* any envelope recipient */
	RS_DIRECTION,		/* inbound / outbound */
	RS_AUTH,		/* "authenticated": the client logged in */
	RS_AUTH_USER,		/* the login name */
	RS_SPF,			/* spf result name */
	RS_DMARC,		/* dmarc result name */
	RS_SPAM,		/* spam score in percent */
	RS_VIRUS,		/* a virus was found / its name */
	RS_IP,			/* client address in networks */
	RS_ANY,			/* "true" */
};

enum rules_op {
	RO_IS = 0,		/* equal, case-insensitive */
	RO_CONTAINS,		/* substring, case-insensitive */
	RO_MATCHES,		/* POSIX extended regex, case-insensitive */
	RO_LIKE,		/* shell glob, case-insensitive */
	RO_EXISTS,		/* header present / virus found */
	RO_LT, RO_LE, RO_GT, RO_GE, RO_EQ,	/* numbers */
	RO_IN,			/* ip in networks */
};

enum rules_node_type { RN_TEST = 0, RN_AND, RN_OR, RN_NOT };

/* A condition tree node; nodes live in the rule's array, children by
 * index (-1 none). */
struct rules_node {
	enum rules_node_type	 type;
	int			 a, b;		/* children */
	enum rules_subject	 subject;
	enum rules_op		 op;
	char			*arg;		/* header name */
	char			*value;		/* string operand */
	uint64_t		 num;		/* numeric operand */
	regex_t			 re;		/* RO_MATCHES */
	bool			 re_ok;
	struct cidr		*cidrs;		/* RO_IN */
	unsigned		 ncidrs;
};

enum rules_action_type {
	RA_ACCEPT = 0, RA_REJECT, RA_DISCARD, RA_QUARANTINE,
	RA_ADD_HEADER, RA_REMOVE_HEADER, RA_REPLACE_HEADER, RA_TAG_SUBJECT,
	RA_COPY, RA_REDIRECT, RA_STRIP, RA_NOTIFY_ADMIN, RA_NOTIFY_SENDER,
	RA_STOP,
};

struct rules_action {
	enum rules_action_type	 type;
	int			 code;		/* reject */
	char			*text;		/* reply, reason, value, tag,
						   glob, notify text */
	char			*name;		/* header name */
	char			*addrs[RULES_ADDRS_MAX];
	unsigned		 naddrs;
};

struct rules_rule {
	char			 name[RULES_NAME_MAX + 1];
	unsigned		 line;
	struct rules_node	*nodes;
	unsigned		 nnodes;
	int			 root;		/* -1: always */
	struct rules_action	 actions[RULES_ACTIONS_MAX];
	unsigned		 nactions;
};

struct rules {
	struct rules_rule	*rules;
	unsigned		 nrules;
	unsigned		 refs;		/* the stage's reference count */
};

/* One attachment, as the rules see it. */
struct rules_part {
	const char	*name;		/* "" none */
	const char	*type;		/* declared, "" none */
	const char	*detected;	/* from the octets, "" none */
	uint64_t	 size;
};

/* What one message offers the conditions. Strings are never NULL. */
struct rules_input {
	const uint8_t		*msg;		/* header + body, without our
						   Received: */
	size_t			 len;
	uint64_t		 size;		/* message size */
	const char		*sender;
	const char *const	*rcpts;
	size_t			 nrcpts;
	bool			 inbound;
	bool			 authenticated;
	const char		*auth_user;
	const char		*spf;		/* result name, "" none */
	const char		*dmarc;		/* result name, "" none */
	bool			 spam_scored;
	double			 spam_score;	/* 0..1 */
	const char		*virus;		/* "" none */
	const char		*ip;
	const struct rules_part	*parts;
	size_t			 nparts;
};

/* The rules that matched, in order; the last one may end evaluation. */
struct rules_hits {
	unsigned	 idx[RULES_HITS_MAX];
	unsigned	 n;
};

/* Evaluate every rule in order: a matching rule is a hit; a hit with
 * accept, reject, discard or stop ends the evaluation. Conditions all
 * see the message as it came in (actions are applied after). */
void rules_eval(const struct rules *r, const struct rules_input *in,
    struct rules_hits *hits);
bool rules_action_ends(enum rules_action_type t);
const char *rules_action_name(enum rules_action_type t);
void rules_free(struct rules *r);

/* Message edits. msg holds a message whose header section starts at
 * off (what is before off, our Received:, is kept as it is). Return 0,
 * or -1 when msg would pass its maximum (msg unchanged). */
/* Insert "name: value" right at off. */
int rules_header_add(struct buf *msg, size_t off, const char *name,
    const char *value);
/* Remove every field called name; *n_r (may be NULL) gets the count. */
int rules_header_remove(struct buf *msg, size_t off, const char *name,
    unsigned *n_r);
/* Remove every field called name, then add one with value. */
int rules_header_replace(struct buf *msg, size_t off, const char *name,
    const char *value);
/* Prefix the Subject with tag (once: not when it already starts so);
 * without a Subject, add one that is the tag. */
int rules_subject_tag(struct buf *msg, size_t off, const char *tag);
/* Replace every attachment part (of a multipart) whose file name
 * matches glob (NULL: every attachment) by a short text/plain note
 * naming the removed file. *n_r gets the number removed. */
int rules_strip(struct buf *msg, size_t off, const char *glob,
    const char *rule, unsigned *n_r);

#endif
