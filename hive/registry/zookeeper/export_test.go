package zookeeper

// DeleteTree lets the tests remove trees that DeleteNamespace does not
// cover, such as one service under the default namespace.
var DeleteTree = deleteTree
