/* The C ABI from C: success, every status class, replay, a too-small buffer, NULL and invalid
 * UTF-8 arguments, two issuers, producing tokens, and four threads racing one token.
 * Built against the static library and run under valgrind by .ci/run. */
#define _GNU_SOURCE /* memmem */
#include "koppeltaal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISSUER "https://portal.example.org"
#define AUDIENCE "Device/42"
#define DEFINITION "https://module.example.org/ActivityDefinition/1"
#define NOW 1700000000ULL

/* A module's RSA decryption key: fixed test data (generating RSA under valgrind is slow). */
static const char *MODULE_PEM =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDEICBj56KcdVFY\n"
    "gVQd0g5ZN0aAOHub4dE6pZrdNM2pqNWjTq67wKp0aJIUWXY0Sd5hgFlNP2mHTqRK\n"
    "/49Aq6dHvmWfDMQ890VrenV6vBB/Pv5ZIhJMb6Jk23Ddo05tReJbbDmTvz8LlsqG\n"
    "6FcaR0oEejz09mlJThVDaJQDkpXopWaAzxUb2KqekFqbHZUSLoQjjAKVIF6T+BAL\n"
    "nJ312PCOF8S8PV5iOsBn2HY1uHGWYw3JZ/KpKUn5VZWoyCF+kkJvFI658LWPWYhR\n"
    "qOe3h9cskK4+T+VhvLTfN8KOqRSF1O4RNTsovTGJrkd2jsPt39qtXJYATkicXiW4\n"
    "+ZcuBPrJAgMBAAECggEBALk4cf6H8s16CmHgedVT3NMq3b0YGrzDzfpqDdBdHuHc\n"
    "ni6Fj4WnVhNr8pGfT3/gR1GjijLm8T2k6oodwmdb9TZPPN+xid7d08TGOQ65b4cM\n"
    "sd7xy4A+aYqAp53ZraaLOlQG6HV9Rwgl140C/cfGjcOewdTCpfph8Ljhme+pz0OO\n"
    "0aW75KQ6s6SuvO0D/9vVv9Kuwj3poUQNtr9mHc1V62eHm0aEJQ+q2uMRNxV7BfAz\n"
    "ljuzLI6pBKLL6+9JHXl1f9z14tpkEmSuPtJC1+w6F0BIuvcv0fAww+gG+mfsP95P\n"
    "m1R6YAkXnAKJ2pkvH4SHp9Wqjfkv9SeCGKGyMX6W6+UCgYEA10MQYUxWNLvTqYSA\n"
    "TK2w8JJj5XuL09H2cJLRmObTkEHnTMoo4ZniXA7lMRz6UJt3O1JZSc2hEIBxlBXI\n"
    "wQ9xAsKL6xDvGY8s+EAkDbnDbaFEqCECd5GRZuwg6wHCVnhJTLjLXb3+RDiJwpmy\n"
    "t49CDSM5WK6Wm+cHgFm7t5BhJ58CgYEA6T3yA6AxzTLbdU0PIaMmp/5oN2L7M3cb\n"
    "0GGwX6wKGcpkYeY6aNr1WV3CnZISmq+g2A5U9gXLCwlFB4eJOU21sL8m1QDokvOm\n"
    "t+XND15GxR4NcU285wHN7yY+8LxnDSizmXx9jQuMluMODg0TeFiDzSlwzn7nyg+S\n"
    "dnPCAK9z5JcCgYEAvQSjfnx0eguwGXtC2ZHu+9/fniN1LcOBXWpeZ5/QiCyGeRRO\n"
    "/4KLlIBz2kNyvZM2CD4QL1FDq+TNVtYmGPiBKIZCLGALQ+tH9pkDz5WduEdSrTuH\n"
    "Gg0Vm0Wexh0eU6V938Oot6Dcg3UN6nXhy3Mc8cJLWca8cxtTp+2jetVpqksCgYEA\n"
    "xRnZ6IJ5U2SE3C2QeeZ7hj+RJiz5BtbCpGfJOjASIRVNmwWJmo5eA3UePzXvjtSX\n"
    "4bzKw1TF7r+Ym/JHXitzPLdsQ1gPMg/AdWs2zKPovi7VQUhmN/joZA435gvwMciR\n"
    "bUUsfAKkfeXGPM2EBJEYYEmC0J2hlrluFbdg3F9oWmUCgYB7t3K/P8qUJmje6N2I\n"
    "7rQ+o6Em+1PBhgCXYRx8j8SukSMsjMkUKBfl/N8QgdsYjV9exREY90an0gCnAQpE\n"
    "DcEFfB6kR20By8/SkxBnebdwJfaj2q5EXEQsaiklDS0uKwrxSStLQ4EOky6dqvIb\n"
    "UW09tE1+tw3vw+PPlxZy5JbFtw==\n"
    "-----END PRIVATE KEY-----\n";

static int checks = 0;

#define CHECK(condition, ...)                                                  \
    do {                                                                       \
        checks++;                                                              \
        if (!(condition)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define EXPECT(expression, expected)                                           \
    do {                                                                       \
        int32_t status_ = (expression);                                        \
        CHECK(status_ == (expected), "%s -> %d (%s), expected %d", #expression, \
              (int)status_, koppeltaal_status_message(status_), (int)(expected)); \
    } while (0)

/* A launch signed with `pem`, NUL-terminated in `out`. */
static size_t launch(const char *pem, const char *issuer, const char *audience, uint64_t now, char *out, size_t cap) {
    size_t len = 0;
    EXPECT(koppeltaal_launch_token(pem, issuer, audience, "Patient/1", "Task/11", DEFINITION, NULL, "plan", now, 300,
                                   (uint8_t *)out, cap - 1, &len), KOPPELTAAL_OK);
    out[len] = '\0';
    return len;
}

static int32_t verify(koppeltaal_verifier *verifier, const char *token, uint64_t now) {
    uint8_t claims[2048];
    size_t claims_len = 0;
    return koppeltaal_verify(verifier, (const uint8_t *)token, strlen(token), now, claims, sizeof claims, &claims_len);
}

struct race {
    koppeltaal_verifier *verifier;
    const char *token;
    int32_t status;
};

static void *race_one(void *argument) {
    struct race *race = argument;
    race->status = verify(race->verifier, race->token, NOW + 1005);
    return NULL;
}

int main(void) {
    static char pem[4096], other_pem[4096], jwks[2048], other_jwks[2048], token[2048], scratch[2048];
    size_t len = 0;

    EXPECT(koppeltaal_generate_key("ES256", 0, (uint8_t *)pem, sizeof pem - 1, &len), KOPPELTAAL_OK);
    pem[len] = '\0';
    EXPECT(koppeltaal_generate_key("ES256", 0, (uint8_t *)other_pem, sizeof other_pem - 1, &len), KOPPELTAAL_OK);
    other_pem[len] = '\0';
    size_t jwks_len = 0, other_jwks_len = 0;
    EXPECT(koppeltaal_jwks_from_pem(pem, (uint8_t *)jwks, sizeof jwks, &jwks_len), KOPPELTAAL_OK);
    EXPECT(koppeltaal_jwks_from_pem(other_pem, (uint8_t *)other_jwks, sizeof other_jwks, &other_jwks_len), KOPPELTAAL_OK);

    koppeltaal_verifier *verifier = NULL;
    EXPECT(koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, ISSUER, AUDIENCE, 64, &verifier), KOPPELTAAL_OK);
    CHECK(verifier != NULL, "verifier created");
    size_t token_len = launch(pem, ISSUER, AUDIENCE, NOW, token, sizeof token);

    /* RS512 only by default: an ES256 launch is refused until ES256 is allowed. */
    EXPECT(verify(verifier, token, NOW + 5), 302);
    EXPECT(koppeltaal_verifier_allow_algorithm(verifier, "ES256"), KOPPELTAAL_OK);

    /* A call that could not deliver the claims is refused before the token is looked at:
     * the launch is not used up. */
    EXPECT(koppeltaal_verify(verifier, (const uint8_t *)token, token_len, NOW + 5, NULL, 4096, &len),
           KOPPELTAAL_NULL_ARGUMENT);
    /* A too-small buffer says how much is needed and does not record the token. */
    uint8_t small[16];
    size_t needed = 0;
    EXPECT(koppeltaal_verify(verifier, (const uint8_t *)token, token_len, NOW + 5, small, sizeof small, &needed),
           KOPPELTAAL_BUFFER_TOO_SMALL);
    CHECK(needed > sizeof small && needed < 1024, "needed %zu", needed);
    uint8_t claims[1024];
    size_t claims_len = 0;
    EXPECT(koppeltaal_verify(verifier, (const uint8_t *)token, token_len, NOW + 5, claims, sizeof claims, &claims_len),
           KOPPELTAAL_OK);
    CHECK(claims_len == needed, "claims length %zu, promised %zu", claims_len, needed);
    memcpy(scratch, claims, claims_len);
    scratch[claims_len] = '\0';
    CHECK(strstr(scratch, "\"resource\":\"Task/11\"") != NULL, "claims: %s", scratch);
    CHECK(strstr(scratch, "\"intent\":\"plan\"") != NULL, "claims: %s", scratch);

    /* Replay: every code has a name in the header. */
    EXPECT(verify(verifier, token, NOW + 6), KOPPELTAAL_REPLAYED);
    /* The replay store cannot be switched once launches were accepted in memory. */
    EXPECT(koppeltaal_verifier_use_redis(verifier, "redis://127.0.0.1:1/", NULL), KOPPELTAAL_INVALID_STATE);
    EXPECT(verify(verifier, token, NOW + 7), KOPPELTAAL_REPLAYED);

    /* Every class of refusal, each with its code. */
    EXPECT(verify(verifier, "not a token", NOW), KOPPELTAAL_MALFORMED_TOKEN);
    EXPECT(verify(verifier, "a.b.c.d.e", NOW), KOPPELTAAL_ENCRYPTED_TOKEN);
    EXPECT(verify(verifier, "e30=.e30.AAAA", NOW), KOPPELTAAL_INVALID_BASE64);
    EXPECT(verify(verifier, "eyJhbGciOiJub25lIn0.e30.", NOW), KOPPELTAAL_FORBIDDEN_ALGORITHM);
    launch(pem, ISSUER, AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 1000), KOPPELTAAL_EXPIRED);
    launch(pem, ISSUER, "Device/7", NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 5), KOPPELTAAL_WRONG_AUDIENCE);
    launch(pem, "https://other.example.org", AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 5), KOPPELTAAL_WRONG_ISSUER);
    launch(other_pem, ISSUER, AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 5), KOPPELTAAL_UNKNOWN_KEY_ID);
    /* A genuine signature of another launch under this one's payload. */
    {
        char other[2048];
        launch(pem, ISSUER, AUDIENCE, NOW, other, sizeof other);
        char *their_signature = strrchr(other, '.');
        char forged[2048];
        size_t prefix = (size_t)(strrchr(token, '.') - token);
        memcpy(forged, token, prefix);
        strcpy(forged + prefix, their_signature);
        EXPECT(verify(verifier, forged, NOW + 5), 408);
    }

    /* A second issuer. */
    launch(other_pem, "https://other.example.org", AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(koppeltaal_verifier_add_issuer(verifier, "https://other.example.org", (const uint8_t *)other_jwks, other_jwks_len),
           KOPPELTAAL_OK);
    EXPECT(verify(verifier, scratch, NOW + 5), KOPPELTAAL_OK);

    /* Policy settings. */
    EXPECT(koppeltaal_verifier_allow_algorithm(verifier, "HS256"), 300);
    EXPECT(koppeltaal_verifier_allow_algorithm(verifier, "PS256"), 301);
    EXPECT(koppeltaal_verifier_set_leeway(verifier, 2000), KOPPELTAAL_OK);
    launch(pem, ISSUER, AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 1000), KOPPELTAAL_OK);
    EXPECT(koppeltaal_verifier_set_leeway(verifier, 60), KOPPELTAAL_OK);
    EXPECT(koppeltaal_verifier_set_max_lifetime(verifier, 0), KOPPELTAAL_INVALID_ARGUMENT);
    EXPECT(koppeltaal_verifier_set_max_lifetime(verifier, 100), KOPPELTAAL_OK);
    launch(pem, ISSUER, AUDIENCE, NOW, scratch, sizeof scratch);
    EXPECT(verify(verifier, scratch, NOW + 5), 506);
    EXPECT(koppeltaal_verifier_set_max_lifetime(verifier, 300), KOPPELTAAL_OK);

    /* NULL and invalid UTF-8: status codes, never crashes. */
    koppeltaal_verifier *none = (koppeltaal_verifier *)0x1;
    EXPECT(koppeltaal_verifier_new(NULL, 10, ISSUER, AUDIENCE, 1, &none), KOPPELTAAL_NULL_ARGUMENT);
    CHECK(none == NULL, "*out is NULL after a failure");
    EXPECT(koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, NULL, AUDIENCE, 1, &none), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, ISSUER, AUDIENCE, 1, NULL), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, "\xff\xfe", AUDIENCE, 1, &none), KOPPELTAAL_INVALID_UTF8);
    EXPECT(koppeltaal_verifier_new((const uint8_t *)"{}", 2, ISSUER, AUDIENCE, 1, &none), 700);
    EXPECT(koppeltaal_verify(NULL, (const uint8_t *)token, token_len, NOW, claims, sizeof claims, &claims_len),
           KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verify(verifier, NULL, 5, NOW, claims, sizeof claims, &claims_len), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verify(verifier, (const uint8_t *)token, token_len, NOW, claims, sizeof claims, NULL),
           KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verifier_allow_algorithm(NULL, "ES256"), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_verifier_allow_algorithm(verifier, NULL), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_launch_token(pem, ISSUER, AUDIENCE, "Patient/1", "Task/11", DEFINITION, NULL, NULL, NOW, 300, NULL,
                                   0, NULL), KOPPELTAAL_NULL_ARGUMENT);
    EXPECT(koppeltaal_jwks_from_pem("not a key", (uint8_t *)scratch, sizeof scratch, &len), 909);
    EXPECT(koppeltaal_generate_key("HS256", 0, (uint8_t *)scratch, sizeof scratch, &len), 300);
    EXPECT(koppeltaal_launch_token(pem, ISSUER, AUDIENCE, "Task/1", "Task/11", DEFINITION, NULL, NULL, NOW, 300,
                                   (uint8_t *)scratch, sizeof scratch, &len), 508);
    /* Redis with options: the struct's size is checked, and a failure says why in `detail`. */
    koppeltaal_verifier *fresh = NULL;
    EXPECT(koppeltaal_verifier_new((const uint8_t *)jwks, jwks_len, ISSUER, AUDIENCE, 4, &fresh), KOPPELTAAL_OK);
    koppeltaal_redis_options redis = {0};
    redis.struct_size = sizeof redis;
    char detail[256];
    size_t detail_len = 0;
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "redis://127.0.0.1:1/", NULL, NULL, 0, NULL),
           KOPPELTAAL_NULL_ARGUMENT);
    redis.struct_size = 4;
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "redis://127.0.0.1:1/", &redis, NULL, 0, NULL),
           KOPPELTAAL_INVALID_ARGUMENT);
    redis.struct_size = sizeof redis;
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "rediss://h/#insecure", &redis, (uint8_t *)detail,
                                              sizeof detail, &detail_len), KOPPELTAAL_INVALID_URL);
    CHECK(detail_len > 0 && memmem(detail, detail_len, "fragment", 8) != NULL, "the detail names the fragment");
    redis.check_now = 1;
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "redis://:hunter2@127.0.0.1:1/", &redis, (uint8_t *)detail,
                                              sizeof detail, &detail_len), KOPPELTAAL_REPLAY_STORE_UNAVAILABLE);
    CHECK(memmem(detail, detail_len, "connection refused", 18) != NULL, "the detail names the cause");
    CHECK(memmem(detail, detail_len, "hunter2", 7) == NULL, "the detail never shows the password");
    /* A detail larger than the buffer is cut to it. */
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "redis://127.0.0.1:1/", &redis, (uint8_t *)detail, 10,
                                              &detail_len), KOPPELTAAL_REPLAY_STORE_UNAVAILABLE);
    CHECK(detail_len == 10, "the detail fills the buffer and no more");
    redis.check_now = 0;
    EXPECT(koppeltaal_verifier_use_redis_with(fresh, "redis+cluster://127.0.0.1:1,127.0.0.1:2", &redis, NULL, 0, NULL),
           KOPPELTAAL_OK);
    koppeltaal_verifier_free(fresh);
    koppeltaal_verifier_free(NULL);

    /* Messages: static, never NULL. */
    CHECK(strcmp(koppeltaal_status_message(0), "success") == 0, "message of 0");
    CHECK(strcmp(koppeltaal_status_message(600), "token has been used before") == 0, "message of 600");
    CHECK(strcmp(koppeltaal_status_message(913), "replay store unavailable") == 0, "message of 913");
    CHECK(strcmp(koppeltaal_status_message(KOPPELTAAL_REPLAY_WINDOW_CLOSED),
                  "token's replay-protection window has closed") == 0, "message of 602");
    CHECK(strcmp(koppeltaal_status_message(KOPPELTAAL_INVALID_STATE),
                  "not possible in the verifier's present state") == 0, "message of 1004");
    CHECK(strcmp(koppeltaal_status_message(123456), "unknown status") == 0, "message of an unknown code");
    /* Names: static, never NULL, the error's variant name. */
    CHECK(strcmp(koppeltaal_status_name(600), "Replayed") == 0, "name of 600");
    CHECK(strcmp(koppeltaal_status_name(913), "ReplayStoreUnavailable") == 0, "name of 913");
    CHECK(strcmp(koppeltaal_status_name(KOPPELTAAL_NULL_ARGUMENT), "NullArgument") == 0, "name of 1000");
    CHECK(strcmp(koppeltaal_status_name(KOPPELTAAL_BUFFER_TOO_SMALL), "BufferTooSmall") == 0, "name of 800");
    CHECK(strcmp(koppeltaal_status_name(-1), "Unknown") == 0, "name of an unknown code");

    /* An encrypted launch (HTI:jwe): refused until the verifier has the module's decryption
     * key, then decrypted and verified like any other; tampering is one error. */
    {
        char signed_launch[2048], jwe[4096];
        launch(pem, ISSUER, AUDIENCE, NOW + 1000, signed_launch, sizeof signed_launch);
        EXPECT(koppeltaal_encrypt_launch(signed_launch, MODULE_PEM, "RSA-OAEP", "A128CBC-HS256", (uint8_t *)jwe,
                                         sizeof jwe - 1, &len), KOPPELTAAL_OK);
        jwe[len] = '\0';
        EXPECT(verify(verifier, jwe, NOW + 1001), KOPPELTAAL_ENCRYPTED_TOKEN);
        EXPECT(koppeltaal_verifier_add_decryption_key(verifier, "not a key"), 909);
        EXPECT(koppeltaal_verifier_add_decryption_key(verifier, MODULE_PEM), KOPPELTAAL_OK);
        char tampered[4096];
        memcpy(tampered, jwe, len + 1);
        tampered[len - 3] = tampered[len - 3] == 'A' ? 'B' : 'A';
        EXPECT(verify(verifier, tampered, NOW + 1001), KOPPELTAAL_DECRYPTION_FAILED);
        EXPECT(verify(verifier, jwe, NOW + 1001), KOPPELTAAL_OK);
        EXPECT(verify(verifier, jwe, NOW + 1002), KOPPELTAAL_REPLAYED);
        EXPECT(koppeltaal_encrypt_launch(signed_launch, MODULE_PEM, "RSA1_5", NULL, (uint8_t *)jwe, sizeof jwe, &len),
               KOPPELTAAL_FORBIDDEN_KEY_MANAGEMENT);
    }

    /* A client assertion. */
    EXPECT(koppeltaal_client_assertion(pem, "my-client", "https://auth.example.org/token", NOW, (uint8_t *)scratch,
                                       sizeof scratch - 1, &len), KOPPELTAAL_OK);
    scratch[len] = '\0';
    CHECK(strchr(scratch, '.') != NULL && strchr(strchr(scratch, '.') + 1, '.') != NULL, "three segments");

    /* Four threads present one new launch at once: exactly one accepted. (Issued later than
     * the others: the verifier's replay store has seen NOW + 1000 above, and never judges by
     * an earlier time again.) */
    launch(pem, ISSUER, AUDIENCE, NOW + 1000, scratch, sizeof scratch);
    pthread_t threads[4];
    struct race races[4];
    for (int i = 0; i < 4; i++) {
        races[i] = (struct race){verifier, scratch, -1};
        CHECK(pthread_create(&threads[i], NULL, race_one, &races[i]) == 0, "thread");
    }
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        accepted += races[i].status == KOPPELTAAL_OK;
        CHECK(races[i].status == KOPPELTAAL_OK || races[i].status == 600, "thread %d: %d", i, (int)races[i].status);
    }
    CHECK(accepted == 1, "%d threads accepted", accepted);

    koppeltaal_verifier_free(verifier);
    printf("C ABI: %d checks passed\n", checks);
    return 0;
}
