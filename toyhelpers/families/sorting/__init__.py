"""Sorting lists: fixed length (lesson 01) and variable length (lesson 02).

Lesson 00, the tour of the course, uses sort_fixed as its example, so its checks live here too.
"""
