"""Pages of collection and approval (applications, notices, rosters, approval, register) and the citizen's
online application. Thin: reads through selectors, writes through services; a service's refusal is shown
next to the field it names."""
