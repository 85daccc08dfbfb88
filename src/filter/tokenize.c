/* tokenize: placeholder, being written. */
#include "tokenize.h"
typedef int tokenize_placeholder;
