package entity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func validUserCreate() UserCreate {
	return UserCreate{
		Username: "Alice_Smith", Email: "Alice@Example.COM", Password: "Str0ng!Passw0rd",
		FirstName: " Alice ", LastName: "O'Brien-Smith",
		Phone: str("+1 (555) 123-4567"), DateOfBirth: str("1990-05-17"), MarketingEmailsConsent: true,
	}
}

func TestUserCreateValidNormalises(t *testing.T) {
	r := validUserCreate()
	if err := r.Validate(testNow); err != nil {
		t.Fatal(err)
	}
	if r.Username != "alice_smith" || r.Email != "alice@example.com" || r.FirstName != "Alice" ||
		*r.Phone != "15551234567" || *r.DateOfBirth != "1990-05-17" {
		t.Fatalf("normalised = %+v", r)
	}
	u := r.User("argon2id$hash", testNow)
	want := User{Username: "alice_smith", Email: "alice@example.com", PasswordHash: "argon2id$hash",
		FirstName: "Alice", LastName: "O'Brien-Smith", Phone: "15551234567", DateOfBirth: "1990-05-17",
		MarketingEmailsConsent: true, Role: RoleCustomer, IsActive: true,
		CreatedAt: At(testNow), UpdatedAt: At(testNow), Version: 1}
	if *u != want {
		t.Fatalf("User = %+v\nwant %+v", *u, want)
	}
	js := mustJSON(t, u)
	if strings.Contains(js, "hash") || strings.Contains(js, "password") {
		t.Errorf("user JSON leaks the hash: %s", js)
	}
	wantProfile := `{"username":"alice_smith","email":"alice@example.com","first_name":"Alice","last_name":"O'Brien-Smith",` +
		`"phone":"15551234567","date_of_birth":"1990-05-17","marketing_emails_consent":true,"role":"customer",` +
		`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.123456Z"}`
	if got := mustJSON(t, u.Profile()); got != wantProfile {
		t.Errorf("profile\n got %s\nwant %s", got, wantProfile)
	}
	u.Phone, u.DateOfBirth = "", ""
	if got := mustJSON(t, u.Profile()); !strings.Contains(got, `"phone":null,"date_of_birth":null`) {
		t.Errorf("profile without optionals: %s", got)
	}
	// Empty optionals become nil.
	r2 := validUserCreate()
	r2.Phone, r2.DateOfBirth = str(""), str("")
	if err := r2.Validate(testNow); err != nil || r2.Phone != nil || r2.DateOfBirth != nil {
		t.Fatalf("empty optionals: %v %+v", err, r2)
	}
	if u2 := r2.User("h", testNow); u2.Phone != "" || u2.DateOfBirth != "" {
		t.Errorf("User with no optionals = %+v", u2)
	}
}

func TestUserCreateRules(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*UserCreate)
		want map[string]string
	}{
		{"username 6", func(r *UserCreate) { r.Username = "abcdef" }, nil},
		{"username 30", func(r *UserCreate) { r.Username = strings.Repeat("a", 30) }, nil},
		{"username 5", func(r *UserCreate) { r.Username = "abcde" }, map[string]string{"body.username": TypeValue}},
		{"username 31", func(r *UserCreate) { r.Username = strings.Repeat("a", 31) }, map[string]string{"body.username": TypeValue}},
		{"username dash", func(r *UserCreate) { r.Username = "abc-def" }, map[string]string{"body.username": TypeValue}},
		{"username unicode", func(r *UserCreate) { r.Username = "abcdéf" }, map[string]string{"body.username": TypeValue}},
		{"username missing", func(r *UserCreate) { r.Username = "" }, map[string]string{"body.username": TypeMissing}},
		{"username markup", func(r *UserCreate) { r.Username = "<script>" }, map[string]string{"body.username": TypeValue}},
		{"email missing", func(r *UserCreate) { r.Email = "" }, map[string]string{"body.email": TypeMissing}},
		{"email no at", func(r *UserCreate) { r.Email = "alice.example.com" }, map[string]string{"body.email": TypeValue}},
		{"email no tld", func(r *UserCreate) { r.Email = "alice@example" }, map[string]string{"body.email": TypeValue}},
		{"email markup", func(r *UserCreate) { r.Email = "<b>a@example.com" }, map[string]string{"body.email": TypeValue}},
		{"email 255", func(r *UserCreate) {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com"
		}, nil},
		{"email 256", func(r *UserCreate) {
			r.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 59) + ".com"
		}, map[string]string{"body.email": TypeValue}},
		{"password 12", func(r *UserCreate) { r.Password = "Abcdefgh1!xy" }, nil},
		{"password 20", func(r *UserCreate) { r.Password = "Abcdefgh1!" + strings.Repeat("x", 10) }, nil},
		{"password 11", func(r *UserCreate) { r.Password = "Abcdefgh1!x" }, map[string]string{"body.password": TypeValue}},
		{"password 21", func(r *UserCreate) { r.Password = "Abcdefgh1!" + strings.Repeat("x", 11) }, map[string]string{"body.password": TypeValue}},
		{"password no upper", func(r *UserCreate) { r.Password = "abcdefgh1!xy" }, map[string]string{"body.password": TypeValue}},
		{"password no lower", func(r *UserCreate) { r.Password = "ABCDEFGH1!XY" }, map[string]string{"body.password": TypeValue}},
		{"password no digit", func(r *UserCreate) { r.Password = "Abcdefghi!xy" }, map[string]string{"body.password": TypeValue}},
		{"password no special", func(r *UserCreate) { r.Password = "Abcdefgh12xy" }, map[string]string{"body.password": TypeValue}},
		{"password other special only", func(r *UserCreate) { r.Password = "Abcdefgh1?xy" }, map[string]string{"body.password": TypeValue}},
		{"password each special", func(r *UserCreate) { r.Password = "Abcdefgh1+xy" }, nil},
		{"password control", func(r *UserCreate) { r.Password = "Abcdefgh1!x\n" }, map[string]string{"body.password": TypeValue}},
		{"password markup", func(r *UserCreate) { r.Password = "Ab1!<script>" }, map[string]string{"body.password": TypeValue}},
		{"password missing", func(r *UserCreate) { r.Password = "" }, map[string]string{"body.password": TypeMissing}},
		{"name unicode", func(r *UserCreate) { r.FirstName = "Zoë Ångström-Łukasz" }, nil},
		{"name 50", func(r *UserCreate) { r.FirstName = strings.Repeat("é", 50) }, nil},
		{"name 51", func(r *UserCreate) { r.FirstName = strings.Repeat("é", 51) }, map[string]string{"body.first_name": TypeValue}},
		{"name 1", func(r *UserCreate) { r.LastName = "X" }, nil},
		{"name blank", func(r *UserCreate) { r.LastName = "   " }, map[string]string{"body.last_name": TypeValue}},
		{"name missing", func(r *UserCreate) { r.LastName = "" }, map[string]string{"body.last_name": TypeMissing}},
		{"name punctuation only", func(r *UserCreate) { r.LastName = "'-" }, map[string]string{"body.last_name": TypeValue}},
		{"name digit", func(r *UserCreate) { r.FirstName = "Al1ce" }, map[string]string{"body.first_name": TypeValue}},
		{"name markup", func(r *UserCreate) { r.FirstName = "<script>alert</script>" }, map[string]string{"body.first_name": TypeValue}},
		{"phone 10", func(r *UserCreate) { r.Phone = str("555.123.4567") }, nil},
		{"phone 15", func(r *UserCreate) { r.Phone = str("+123456789012345") }, nil},
		{"phone 9", func(r *UserCreate) { r.Phone = str("555-123-456") }, map[string]string{"body.phone": TypeValue}},
		{"phone 16", func(r *UserCreate) { r.Phone = str("1234567890123456") }, map[string]string{"body.phone": TypeValue}},
		{"phone letters", func(r *UserCreate) { r.Phone = str("555-CALL-NOW1") }, map[string]string{"body.phone": TypeValue}},
		{"phone inner plus", func(r *UserCreate) { r.Phone = str("1+5551234567") }, map[string]string{"body.phone": TypeValue}},
		{"dob exactly 13 today", func(r *UserCreate) { r.DateOfBirth = str("2013-11-25") }, nil},
		{"dob 13 tomorrow", func(r *UserCreate) { r.DateOfBirth = str("2013-11-26") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"dob 120", func(r *UserCreate) { r.DateOfBirth = str("1906-01-01") }, nil},
		{"dob 121", func(r *UserCreate) { r.DateOfBirth = str("1905-11-25") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"dob future", func(r *UserCreate) { r.DateOfBirth = str("2030-01-01") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"dob format", func(r *UserCreate) { r.DateOfBirth = str("17/05/1990") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"dob no padding", func(r *UserCreate) { r.DateOfBirth = str("1990-5-17") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"dob bad day", func(r *UserCreate) { r.DateOfBirth = str("1990-02-30") }, map[string]string{"body.date_of_birth": TypeValue}},
		{"everything wrong", func(r *UserCreate) { *r = UserCreate{Phone: str("1")} }, map[string]string{
			"body.username": TypeMissing, "body.email": TypeMissing, "body.password": TypeMissing,
			"body.first_name": TypeMissing, "body.last_name": TypeMissing, "body.phone": TypeValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validUserCreate()
			tt.mod(&r)
			wantFields(t, r.Validate(testNow), tt.want)
		})
	}
}

func TestValidEmail(t *testing.T) {
	for in, want := range map[string]bool{
		"a@b.co": true, "first.last+tag@sub.example.org": true, "o'hara@x.io": true,
		"a@b.c": false, "@b.co": false, "a@": false, "a@@b.co": false, ".a@b.co": false, "a.@b.co": false,
		"a..b@b.co": false, "a b@b.co": false, "a@b_c.co": false, "a@-b.co": false, "a@b-.co": false,
		"a@b..co": false, "a@b.c0m": false, "a@b.123": false, strings.Repeat("a", 65) + "@b.co": false,
		"a@" + strings.Repeat("b", 64) + ".co": false, "é@b.co": false,
	} {
		if got := ValidEmail(in); got != want {
			t.Errorf("ValidEmail(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestHelpers(t *testing.T) {
	if NormalizeUsername("AbC_1") != "abc_1" || !ValidPassword("Abcdefgh1!xy") || ValidPassword("short") {
		t.Error("helpers")
	}
	if d, ok := NormalizePhone(" +44 20 7946 0958 "); !ok || d != "442079460958" {
		t.Errorf("NormalizePhone = %q %v", d, ok)
	}
	if !ValidName("Anne-Marie") || ValidName("") || !ValidName("José") || !ValidName("Nguyễn") {
		t.Error("ValidName")
	}
	if msg := CheckDateOfBirth("2000-02-29", time.Date(2013, 2, 28, 23, 0, 0, 0, time.UTC)); msg == "" {
		t.Error("12-year-old accepted (leap day birthday not yet reached)")
	}
	if msg := CheckDateOfBirth("2000-02-29", time.Date(2013, 3, 1, 0, 0, 0, 0, time.UTC)); msg != "" {
		t.Errorf("13-year-old rejected: %s", msg)
	}
	// now is read in UTC.
	late := time.Date(2026, 11, 24, 23, 30, 0, 0, time.FixedZone("W", -3600)) // 2026-11-25T00:30Z
	if msg := CheckDateOfBirth("2013-11-25", late); msg != "" {
		t.Errorf("UTC birthday rejected: %s", msg)
	}
	if !RoleAdmin.Valid() || !RoleCustomer.Valid() || Role("root").Valid() {
		t.Error("Role.Valid")
	}
}

func TestUserLogin(t *testing.T) {
	tests := []struct {
		user, pass string
		want       map[string]string
	}{
		{"Alice_Smith", "whatever1234", nil},
		{"abcdef", strings.Repeat("x", 20), nil},
		{"abcde", "whatever1234", map[string]string{"body.username": TypeValue}},
		{strings.Repeat("a", 31), "whatever1234", map[string]string{"body.username": TypeValue}},
		{"abcdef", strings.Repeat("x", 11), map[string]string{"body.password": TypeValue}},
		{"abcdef", strings.Repeat("x", 21), map[string]string{"body.password": TypeValue}},
		{"", "", map[string]string{"body.username": TypeMissing, "body.password": TypeMissing}},
	}
	for _, tt := range tests {
		r := UserLogin{Username: tt.user, Password: tt.pass}
		wantFields(t, r.Validate(), tt.want)
		if tt.want == nil && r.Username != strings.ToLower(tt.user) {
			t.Errorf("username not lower-cased: %q", r.Username)
		}
	}
	if ErrInvalidCredentials.Kind != "unauthorized" {
		t.Error("ErrInvalidCredentials kind")
	}
}

func TestUserProfileUpdate(t *testing.T) {
	var empty UserProfileUpdate
	if !empty.IsEmpty() || empty.Validate(testNow) != nil {
		t.Fatal("empty update")
	}
	var r UserProfileUpdate
	if err := json.Unmarshal([]byte(`{"first_name":" Bob ","email":"BOB@Example.com","phone":"","marketing_emails_consent":false,"last_name":"Lee","date_of_birth":"1980-01-01"}`), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(testNow); err != nil || r.IsEmpty() {
		t.Fatal(err)
	}
	u := User{Username: "alice_smith", Email: "alice@example.com", FirstName: "Alice", LastName: "Smith",
		Phone: "15551234567", MarketingEmailsConsent: true}
	if !r.Apply(&u) {
		t.Error("email change not reported")
	}
	want := User{Username: "alice_smith", Email: "bob@example.com", FirstName: "Bob", LastName: "Lee",
		DateOfBirth: "1980-01-01"}
	if u != want {
		t.Errorf("after Apply: %+v", u)
	}
	// Same email: not a change. Phone normalised.
	r2 := UserProfileUpdate{Email: str("BOB@example.com"), Phone: str("(555) 123-4567")}
	if err := r2.Validate(testNow); err != nil {
		t.Fatal(err)
	}
	if r2.Apply(&u) || u.Phone != "5551234567" {
		t.Errorf("Apply same email: %+v", u)
	}
	bad := UserProfileUpdate{FirstName: str("  "), LastName: str("<b>x</b>"), Email: str("nope"),
		Phone: str("12"), DateOfBirth: str("2020-01-01")}
	wantFields(t, bad.Validate(testNow), map[string]string{"body.first_name": TypeValue, "body.last_name": TypeValue,
		"body.email": TypeValue, "body.phone": TypeValue, "body.date_of_birth": TypeValue})
}
