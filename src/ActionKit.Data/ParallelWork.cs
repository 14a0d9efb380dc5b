using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace ActionKit.Data;

/// <summary>Runs independent items on all cores and fails like a plain loop would: with the exception of the
/// lowest failing item, unwrapped, so the error a user sees does not depend on thread timing.</summary>
internal static class ParallelWork
{
    public static void For(int count, Action<int> body, CancellationToken cancellationToken)
    {
        var failures = new ConcurrentBag<(int Item, ExceptionDispatchInfo Error)>();
        var options = new ParallelOptions
        {
            CancellationToken = cancellationToken,
            MaxDegreeOfParallelism = Environment.ProcessorCount,
        };
        Parallel.For(0, count, options, (item, loop) =>
        {
            try
            {
                body(item);
            }
            catch (Exception error)
            {
                failures.Add((item, ExceptionDispatchInfo.Capture(error)));
                loop.Stop();
            }
        });
        if (!failures.IsEmpty)
        {
            failures.MinBy(failure => failure.Item).Error.Throw();
        }
    }
}
