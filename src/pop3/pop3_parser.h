/* pop3_parser: the pure POP3 command parser (RFC 1939, RFC 2449): splits
 * a command line (already framed, CRLF removed) into keyword and
 * arguments, and parses the numeric arguments of STAT/LIST/RETR/DELE/
 * TOP/UIDL. No I/O, no state: fed bytes, returns results; fuzzed by
 * tests/fuzz/fuzz_pop3.c.
 *
 * SECURITY: the line is untrusted client input. Keywords are matched
 * case-insensitively against a fixed table; a NUL byte anywhere makes
 * the command unknown; numbers are range-checked without atoi. */
#ifndef MOAT_POP3_PARSER_H
#define MOAT_POP3_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define POP3_LINE_MAX		255	/* command line incl CRLF, RFC 2449 4 */
#define POP3_ARG_MAX		40	/* octets per argument, RFC 2449 4 */
#define POP3_ARGS_MAX		2	/* numeric arguments (TOP msg n) */

enum pop3_cmd {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_APOP,
	POP3_CMD_AUTH,
	POP3_CMD_STLS,
	POP3_CMD_CAPA,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_COUNT
};

struct pop3_command {
	enum pop3_cmd	 cmd;
	const char	*args;		/* after the keyword and one SP; ""
					   when none; points into the line */
	size_t		 argslen;
};

/* command = keyword [SP arguments]   ; keyword 3*4ALPHA (RFC 1939 3)
 * Always succeeds: anything else is POP3_CMD_UNKNOWN. */
void pop3_parse_command(const char *line, size_t len,
    struct pop3_command *cmd_r);
const char *pop3_cmd_name(enum pop3_cmd cmd);

/* args = number *(SP number)        ; number 1*10DIGIT, <= UINT32_MAX
 * Exactly min..max numbers separated by single spaces, each at most
 * POP3_ARG_MAX octets. Returns the count parsed, or -1 on a syntax or
 * range error. vals has room for POP3_ARGS_MAX. */
int pop3_parse_numbers(const char *args, size_t len, int min, int max,
    uint32_t vals[POP3_ARGS_MAX]);

#endif
