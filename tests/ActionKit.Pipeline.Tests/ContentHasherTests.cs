using ActionKit.Pipeline.Caching;

namespace ActionKit.Pipeline.Tests;

public sealed class ContentHasherTests : IDisposable
{
    private readonly TempFolder root = new();

    public void Dispose() => root.Dispose();

    [Fact]
    public void Folder_hash_depends_on_paths_and_contents_only()
    {
        root.Write("a/x.txt", "one");
        root.Write("a/deep/y.txt", "two");
        root.Write("b/x.txt", "one");
        root.Write("b/deep/y.txt", "two");
        File.SetLastWriteTimeUtc(root.Combine("b/x.txt"), new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var hasher = new ContentHasher(root.Combine("state"));

        Assert.Equal(hasher.TryHash(root.Combine("a")), hasher.TryHash(root.Combine("b")));
        File.Move(root.Combine("b/deep/y.txt"), root.Combine("b/deep/z.txt"));
        Assert.NotEqual(hasher.TryHash(root.Combine("a")), hasher.TryHash(root.Combine("b")));
        Assert.Null(hasher.TryHash(root.Combine("nothing")));
    }

    [Fact]
    public void Unchanged_files_are_not_read_again()
    {
        string file = root.Write("data/frame.jpg", "AAAA");
        var stamp = File.GetLastWriteTimeUtc(file);
        var hasher = new ContentHasher(root.Combine("state"));
        string first = hasher.TryHash(root.Combine("data"))!;

        // Same size and mtime: the cache answers without reading (which is how it stays fast, and what DVC trusts too).
        File.WriteAllText(file, "BBBB");
        File.SetLastWriteTimeUtc(file, stamp);
        Assert.Equal(first, new ContentHasher(root.Combine("state")).TryHash(root.Combine("data")));

        // A new mtime makes it read the file again.
        File.SetLastWriteTimeUtc(file, stamp.AddSeconds(1));
        Assert.NotEqual(first, new ContentHasher(root.Combine("state")).TryHash(root.Combine("data")));
    }

    [Fact]
    public void File_hash_is_its_sha256()
    {
        string file = root.Write("f.txt", "abc");
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", new ContentHasher(root.Combine("state")).TryHash(file));
    }
}
