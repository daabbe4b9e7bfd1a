/* Verify an HTI launch token from C.
 *
 *   verify JWKS_FILE ISSUER AUDIENCE TOKEN_FILE
 *
 * Prints the launch's claims as JSON, or the refusal's code and message (exit status 1). */
#include "koppeltaal.h"

#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) return NULL;
    static char buffer[1 << 16];
    *len = fread(buffer, 1, sizeof buffer - 1, file);
    fclose(file);
    while (*len > 0 && (buffer[*len - 1] == '\n' || buffer[*len - 1] == '\r')) (*len)--;
    buffer[*len] = '\0';
    return buffer;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s JWKS_FILE ISSUER AUDIENCE TOKEN_FILE\n", argv[0]);
        return 2;
    }
    size_t jwks_len = 0;
    const char *jwks = slurp(argv[1], &jwks_len);
    if (jwks == NULL) return perror(argv[1]), 2;

    koppeltaal_verifier *verifier = NULL;
    int32_t status = koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, argv[2], argv[3], 1024, &verifier);
    if (status != KOPPELTAAL_OK) {
        fprintf(stderr, "cannot create a verifier: %s (%d)\n", koppeltaal_status_message(status), (int)status);
        return 1;
    }

    size_t token_len = 0;
    const char *token = slurp(argv[4], &token_len);
    if (token == NULL) return perror(argv[4]), koppeltaal_verifier_free(verifier), 2;

    unsigned char claims[4096];
    size_t claims_len = 0;
    /* now_unix = 0: the system clock. */
    status = koppeltaal_verify(verifier, (const uint8_t *)token, token_len, 0, claims, sizeof claims, &claims_len);
    if (status == KOPPELTAAL_OK) {
        printf("%.*s\n", (int)claims_len, claims);
    } else {
        fprintf(stderr, "refused: %s (code %d)\n", koppeltaal_status_message(status), (int)status);
    }
    koppeltaal_verifier_free(verifier);
    return status == KOPPELTAAL_OK ? 0 : 1;
}
