"""Permuting a list by a permutation given in the input (lesson 04)."""
