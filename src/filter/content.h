/* content: one pass over a message's MIME structure with hard limits,
 * describing every part and every file inside zip, gzip and tar
 * archives, also nested (a .tar.gz is a tar inside a gzip) (name,
 * declared and detected type, decoded size, SHA-256), for the
 * attachment policy, the content rules and outbreak fingerprints. The
 * limits (decoded size, nesting depth, part count, archive octets read)
 * stop the walk: a message over one is never decoded further. Archives
 * whose members share octets stop it too ("overlapping members"). */
#ifndef MOAT_CONTENT_H
#define MOAT_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTENT_NAME_MAX	256	/* a file name, UTF-8 */
#define CONTENT_TYPE_MAX	128	/* type/subtype, lower case */
#define CONTENT_DETECT_MAX	32	/* a detected type's name */
#define CONTENT_SNIFF_LEN	512	/* octets looked at for the type */
#define CONTENT_ARCHIVE_MAX	(64u * 1024 * 1024)	/* a nested zip held
				   in memory to be opened (its central
				   directory is at the end) */
#define CONTENT_WORK_FACTOR	2	/* archive octets read (compressed
				   input, which can inflate to nothing) per
				   decoded octet allowed */
#define CONTENT_DEFAULT_DECODED	(100u * 1024 * 1024)
#define CONTENT_DEFAULT_DEPTH	5
#define CONTENT_DEFAULT_PARTS	500

struct content_limits {
	uint64_t	max_decoded;	/* all parts and archive members */
	unsigned	max_depth;	/* multipart + archive nesting */
	unsigned	max_parts;	/* MIME parts + archive members */
	bool		archives;	/* look inside zip, gzip, tar */
};

struct content_part {
	char		name[CONTENT_NAME_MAX];	/* file name, "" none */
	/* Another name the file is saved under, "" none: a gzip's member
	 * is named by its FNAME field, but gunzip writes the outer name
	 * without its suffix. */
	char		alt_name[CONTENT_NAME_MAX];
	char		type[CONTENT_TYPE_MAX];	/* declared, "" inside zips */
	char		detected[CONTENT_DETECT_MAX];	/* from the octets */
	uint64_t	size;		/* decoded octets */
	unsigned	depth;		/* nesting; archive members deeper */
	bool		in_archive;
	bool		attachment;	/* a file, not the message text */
	uint8_t		sha256[32];
};

struct content_info {
	struct content_part	*parts;
	size_t			 nparts;
	uint64_t		 decoded_total;
	uint64_t		 work;	/* archive octets read: at most
					   CONTENT_WORK_FACTOR * max_decoded */
	unsigned		 max_depth;
	const char		*limit;	/* the limit that stopped the walk,
					   NULL: none */
};

/* The defaults above, archives on. */
void content_limits_default(struct content_limits *lim);
/* The detected type of content starting with p (at most
 * CONTENT_SNIFF_LEN octets are read): "exe", "elf", "macho", "zip",
 * "tar", "rar", "7z", "gzip", "pdf", "ole", "script", "html", "text",
 * "empty" or "unknown"; archive members that cannot be read are
 * "encrypted" or "unreadable". */
const char *content_detect(const uint8_t *p, size_t len);

/* Walk len octets of a message (headers and body). Returns a new
 * content_info (never NULL). */
struct content_info *content_scan(const uint8_t *msg, size_t len,
    const struct content_limits *lim);
void content_info_free(struct content_info *ci);

#endif
