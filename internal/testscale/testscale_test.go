package testscale

import "testing"

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
	}{{"", 1}, {"0", 1}, {"false", 1}, {"1", 2}, {"yes", 2}} {
		t.Setenv(Env, tc.env)
		if got := Pick(1, 2); got != tc.want {
			t.Errorf("%s=%q: Pick(1, 2) = %d, want %d", Env, tc.env, got, tc.want)
		}
	}
}
