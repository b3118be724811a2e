DROP INDEX awards_published_idx;
