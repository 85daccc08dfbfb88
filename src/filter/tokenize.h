/* tokenize: placeholder, being written. */
#ifndef MOAT_TOKENIZE_H
#define MOAT_TOKENIZE_H
#endif
