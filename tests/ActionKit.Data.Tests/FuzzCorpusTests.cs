using ActionKit.Fuzzing;
using Xunit.Sdk;

namespace ActionKit.Data.Tests;

/// <summary>The fuzz harness itself: it fails on a foreign exception, an error that does not name the file, a hang
/// and an allocation beyond the allowance, and says how to replay the case.</summary>
public sealed class FuzzCorpusTests
{
    private static FuzzCorpus<DatasetFormatException> Corpus(Action<string, CancellationToken> read) => new("test reader", "f.txt")
    {
        Seeds = ["one\ntwo 2\n"u8.ToArray()],
        Mutations = Mutations.Text,
        Read = read,
        TimeBound = TimeSpan.FromSeconds(1),
        Allowance = _ => 1 << 20,
    };

    [Fact]
    public void A_foreign_exception_fails_with_the_seed_and_case()
    {
        var error = Assert.Throws<TrueException>(() => Corpus((_, _) => throw new IndexOutOfRangeException("boom")).Run(3));
        Assert.Matches(@"test reader: (\d+) of \1 cases failed", error.Message);
        Assert.Contains("ACTIONKIT_FUZZ_CASE=0", error.Message);
        Assert.Contains("IndexOutOfRangeException instead of a DatasetFormatException", error.Message);
    }

    [Fact]
    public void The_own_error_must_name_the_file()
    {
        Corpus((path, _) => throw new DatasetFormatException(path, "bad")).Run(3);
        var error = Assert.Throws<TrueException>(() => Corpus((_, _) => throw new DatasetFormatException("other.txt", "bad")).Run(3));
        Assert.Contains("naming", error.Message);
    }

    [Fact]
    public void A_hang_and_a_large_allocation_fail()
    {
        var hang = Assert.Throws<TrueException>(() => Corpus((_, token) => Task.Delay(Timeout.Infinite, token).Wait(token)).Run(1));
        Assert.Contains("still running", hang.Message);
        var allocation = Assert.Throws<TrueException>(() => Corpus((_, _) => GC.KeepAlive(new byte[8 << 20])).Run(1));
        Assert.Contains("allocated 8 MiB, more than the 1 MiB allowed", allocation.Message);
    }
}
