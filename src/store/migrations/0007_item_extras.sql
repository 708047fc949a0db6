-- What a feed says of an item beyond its core fields (contributors, rights, source feed,
-- comments, geo point, podcast fields … as one JSON object, `model::Extras`), and the title as
-- sanitised HTML when the feed gave it as HTML. Portable SQL, as in 0001. Rows from before
-- read as "nothing more said".
ALTER TABLE items ADD COLUMN extras TEXT NOT NULL DEFAULT '{}';
ALTER TABLE item_bodies ADD COLUMN title_html TEXT;
