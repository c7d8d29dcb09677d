//! The category tree (company → product family → product, or deeper): expanding a choice to
//! everything below it (the shape the store accepts is [`crate::limits::check_hierarchy`],
//! shared with bundle verification, re-exported here). Both run in time linear in the
//! number of categories, whatever the depth: the categories come from outside (an upstream,
//! a bundle), and a chain of 100,000 nested categories fits in a bundle of under 1 MB.

pub use crate::limits::{MAX_CATEGORY_DEPTH, check_hierarchy};
use crate::model::Guid;
use std::collections::{HashMap, HashSet};

/// The chosen categories and every category below them (choosing a product family chooses
/// its products), given each category's parent. One pass builds a parent → children index,
/// then each category below the choice is visited once; a cycle cannot make it loop.
pub fn with_descendants(
    chosen: &[Guid],
    parents: &HashMap<String, Option<String>>,
) -> HashSet<String> {
    expand(chosen, parents, &mut 0)
}

/// [`with_descendants`], counting in `visits` each category taken from the work list.
fn expand(
    chosen: &[Guid],
    parents: &HashMap<String, Option<String>>,
    visits: &mut u64,
) -> HashSet<String> {
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, p) in parents {
        if let Some(p) = p {
            children.entry(p.as_str()).or_default().push(id.as_str());
        }
    }
    let mut set: HashSet<String> = chosen.iter().map(|g| g.to_string()).collect();
    let mut work: Vec<String> = set.iter().cloned().collect();
    while let Some(c) = work.pop() {
        *visits += 1;
        for &k in children.get(c.as_str()).into_iter().flatten() {
            if set.insert(k.to_string()) {
                work.push(k.to_string());
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn guid(i: usize) -> String {
        format!("00000000-0000-0000-0000-{i:012x}")
    }

    /// A chain: category i's parent is i - 1.
    fn chain(n: usize) -> HashMap<String, Option<String>> {
        (0..n)
            .map(|i| (guid(i), (i > 0).then(|| guid(i - 1))))
            .collect()
    }

    #[test]
    fn a_deep_chain_is_expanded_visiting_each_category_once() {
        let n = 100_000;
        let parents = chain(n);
        let mut visits = 0;
        let root: Guid = guid(0).parse().unwrap();
        let set = expand(&[root], &parents, &mut visits);
        assert_eq!(set.len(), n);
        assert_eq!(visits, n as u64, "each category is visited exactly once");
        // From the middle: only what is below.
        let mut visits = 0;
        let mid: Guid = guid(n / 2).parse().unwrap();
        assert_eq!(expand(&[mid], &parents, &mut visits).len(), n - n / 2);
        assert_eq!(visits, (n - n / 2) as u64);
    }

    #[test]
    fn a_cycle_ends_the_expansion_and_is_refused() {
        let mut parents = chain(5);
        parents.insert(guid(0), Some(guid(4)));
        let mut visits = 0;
        let set = expand(&[guid(2).parse().unwrap()], &parents, &mut visits);
        assert_eq!(set.len(), 5);
        assert_eq!(visits, 5);
        let e = check_hierarchy(&parents).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        assert!(e.message.contains("cycle"), "{}", e.message);
        let mut selfish = HashMap::new();
        selfish.insert(guid(7), Some(guid(7)));
        assert!(
            check_hierarchy(&selfish)
                .unwrap_err()
                .message
                .contains("cycle")
        );
    }

    #[test]
    fn the_depth_cap_holds_at_its_edge() {
        assert!(check_hierarchy(&chain(MAX_CATEGORY_DEPTH)).is_ok());
        let e = check_hierarchy(&chain(MAX_CATEGORY_DEPTH + 1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        assert!(e.message.contains("limit of 32 levels"), "{}", e.message);
        // Linear: a chain of 100,000 is refused at once, not after quadratic work.
        assert!(check_hierarchy(&chain(100_000)).is_err());
        // A missing parent ends the walk: the category counts as a top one.
        let mut orphan = chain(MAX_CATEGORY_DEPTH);
        orphan.insert(guid(0), Some(guid(999_999)));
        assert!(check_hierarchy(&orphan).is_ok());
    }
}
