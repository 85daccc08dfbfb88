/* imap_parser_private: what the imap_parser_*.c files share: the parser
 * state, its per-command arena and small grammar helpers. */
#ifndef MOAT_IMAP_PARSER_PRIVATE_H
#define MOAT_IMAP_PARSER_PRIVATE_H

#include "imap_parser.h"

#define IMAP_NONE	SIZE_MAX

struct imap_arena_block {
	struct imap_arena_block	*next;
	size_t			 used, cap;
	max_align_t		 data[];
};

struct imap_parser {
	struct imap_limits	 limits;	/* for the current command */
	struct imap_limits	 next_limits;
	/* framing state, offsets into the caller's data */
	size_t			 pos;		/* scanned up to */
	size_t			 line_octets;	/* outside literals */
	uint64_t		 lit_left;	/* literal data to skip */
	size_t			 brace;		/* last '{' outside quotes */
	size_t			 literals;
	bool			 in_lit;
	bool			 quoted, escaped;
	bool			 skipping;	/* dropping up to an LF */
	bool			 started;	/* pos > 0 or arena dirty */
	/* tree */
	struct imap_arg		*args;
	size_t			 nargs, args_cap;
	uint8_t			*scratch;	/* unescaped quoted text */
	size_t			 scratch_len, scratch_cap;
	struct imap_arena_block	*arena;
};

void *imap_alloc(struct imap_parser *p, size_t n, size_t size);
void imap_arena_clear(struct imap_parser *p);

int imap_fail(struct imap_parse_error *err, const struct imap_command *cmd,
    enum imap_perr code, const char *reason);

bool imap_is_atom_char(uint8_t c);
bool imap_is_astring_char(uint8_t c);
bool imap_is_digit(uint8_t c);
bool imap_slice_eq(struct imap_slice s, const char *lit);
/* number = 1*DIGIT within [min, max]; returns 0 or -1 */
int imap_slice_number(struct imap_slice s, uint64_t min, uint64_t max,
    uint64_t *v_r);
/* atom (not NIL/number/string): its text; else false */
bool imap_arg_atom_text(const struct imap_arg *a, struct imap_slice *s_r);
/* n-th argument of a command (0-based) or NULL */
const struct imap_arg *imap_cmd_arg(const struct imap_command *cmd,
    size_t n);
int imap_parse_search_keys(struct imap_parser *p,
    const struct imap_command *cmd, const struct imap_arg *a,
    bool charset_required, struct imap_search *out,
    struct imap_parse_error *err);

#endif
