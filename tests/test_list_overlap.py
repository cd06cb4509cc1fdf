"""list_overlap (sql/models/views.sql): shared members, overlap (shared / the smaller audience) and Jaccard for every
pair of lists and segments, as of the current versions, with known answers."""

from __future__ import annotations

NEWSLETTER = "consent: confirmed\nmode: subscribe\nlists: [newsletter]\n"
CUSTOMERS = "consent: confirmed\nmode: subscribe\nlists: [customers]\n"


def test_overlap_and_jaccard_of_every_pair_of_lists_and_segments(workspace):
    # newsletter: a b c d; customers: c d e; segment 'a-or-e': a e; nobody on webinar-2026
    workspace.drop("n.csv", "email\na@example.org\nb@example.org\nc@example.org\nd@example.org\n", NEWSLETTER)
    workspace.drop("c.csv", "email\nc@example.org\nd@example.org\ne@example.org\n", CUSTOMERS)
    workspace.write_segment(
        "a-or-e", "select contact_id from contacts where email in ('a@example.org', 'e@example.org')"
    )
    workspace.run()
    rows = {
        (kind_a, id_a, kind_b, id_b): (members_a, members_b, shared, overlap, jaccard)
        for kind_a, id_a, kind_b, id_b, members_a, members_b, shared, overlap, jaccard in workspace.query(
            "select * from list_overlap"
        )
    }
    assert rows[("list", "customers", "list", "newsletter")] == (3, 4, 2, round(2 / 3, 4), round(2 / 5, 4))
    assert rows[("list", "newsletter", "segment", "a-or-e")] == (4, 2, 1, 0.5, 0.2)
    assert rows[("list", "customers", "segment", "a-or-e")] == (3, 2, 1, 0.5, 0.25)
    assert rows[("list", "all", "list", "newsletter")] == (5, 4, 4, 1.0, 0.8)
    # an empty list pairs with every other audience, with nothing shared and no ratio
    assert rows[("list", "newsletter", "list", "webinar-2026")] == (4, 0, 0, None, 0.0)
    audiences = workspace.query(
        "select count(*) from (select list_id from lists union all select segment_id from segments)"
    )[0][0]
    assert len(rows) == audiences * (audiences - 1) // 2  # every unordered pair once
