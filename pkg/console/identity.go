package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Mode says whose identity the console acts with.
type Mode int

const (
	// ModeLocal acts with Options.Config for whoever holds the session token: `ferry ui`, on
	// the user's own machine with the user's kubeconfig.
	ModeLocal Mode = iota
	// ModeUser acts with each request's own bearer token, passed through to the API server:
	// the `Authorization: Bearer` header an authenticating proxy (OIDC ID token) sets, or the
	// token a user signed in with (kept in an HttpOnly cookie). The API server authenticates
	// it and its RBAC decides every read and action. `ferry-controller --ui-port`.
	ModeUser
)

// TokenCookie carries a signed-in user's bearer token in ModeUser.
const TokenCookie = "ferry_console_token"

// identity is one user's client and what the console remembers about them.
type identity struct {
	c    client.WithWatch
	csrf string
	// user is the name the API server knows the identity by, once asked.
	user string

	mu       sync.Mutex
	access   map[string]accessEntry
	lastUsed time.Time
}

type accessEntry struct {
	allowed bool
	at      time.Time
}

type identityKey struct{}

// id is the identity a request acts with (set by the session check).
func (s *Server) id(ctx context.Context) *identity {
	if id, ok := ctx.Value(identityKey{}).(*identity); ok {
		return id
	}
	return s.local
}

// cl is the client of the request's identity.
func (s *Server) cl(ctx context.Context) client.WithWatch { return s.id(ctx).c }

func (s *Server) newIdentity(cfg *rest.Config, secret string) (*identity, error) {
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: s.scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(secret))
	return &identity{c: c, csrf: hex.EncodeToString(mac.Sum(nil)), access: map[string]accessEntry{}, lastUsed: s.o.Now()}, nil
}

// userIdentity returns the identity of a bearer token, keeping up to maxUsers of them for
// userTTL after their last use.
func (s *Server) userIdentity(token string) (*identity, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	now := s.o.Now()
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if id, ok := s.users[key]; ok {
		id.lastUsed = now
		return id, nil
	}
	for k, id := range s.users {
		if now.Sub(id.lastUsed) > userTTL {
			delete(s.users, k)
		}
	}
	if len(s.users) >= maxUsers {
		clear(s.users)
	}
	cfg := rest.AnonymousClientConfig(s.o.Config)
	cfg.BearerToken = token
	id, err := s.newIdentity(cfg, key)
	if err != nil {
		return nil, err
	}
	s.users[key] = id
	return id, nil
}

const (
	// maxUsers and userTTL bound the identities kept: a client each, per token.
	maxUsers = 512
	userTTL  = 15 * time.Minute
	// signedInFor is how long the browser keeps a signed-in token (a token's own expiry,
	// checked by the API server on every request, ends it sooner).
	signedInFor = 8 * time.Hour
)

// bearer is the request's bearer token: the Authorization header, else the sign-in cookie.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	if ck, err := r.Cookie(TokenCookie); err == nil {
		return ck.Value
	}
	return ""
}

// whoAmI asks the API server who the identity is (SelfSubjectReview), once.
func (id *identity) whoAmI(ctx context.Context) (string, error) {
	id.mu.Lock()
	user := id.user
	id.mu.Unlock()
	if user != "" {
		return user, nil
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := id.c.Create(ctx, review); err != nil {
		return "", err
	}
	user = review.Status.UserInfo.Username
	if user == "" {
		return "", errors.New("the API server did not say who this is")
	}
	id.mu.Lock()
	id.user = user
	id.mu.Unlock()
	return user, nil
}

// allowed asks the API server whether the identity may do verb on resource
// (group/resource[/subresource]) in namespace. Answers are kept for 10 seconds.
func (s *Server) allowed(ctx context.Context, verb, group, resource, subresource, namespace string) bool {
	id := s.id(ctx)
	key := strings.Join([]string{verb, group, resource, subresource, namespace}, "/")
	now := s.o.Now()
	id.mu.Lock()
	e, ok := id.access[key]
	id.mu.Unlock()
	if ok && now.Sub(e.at) < 10*time.Second {
		return e.allowed
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Subresource: subresource, Namespace: namespace}}}
	allowed := false
	if err := id.c.Create(ctx, review); err == nil {
		allowed = review.Status.Allowed
	}
	id.mu.Lock()
	id.access[key] = accessEntry{allowed: allowed, at: now}
	id.mu.Unlock()
	return allowed
}
