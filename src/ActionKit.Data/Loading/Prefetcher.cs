namespace ActionKit.Data.Loading;

/// <summary>Builds items 0..count-1 on dedicated worker threads, at most <c>window</c> items ahead of the
/// consumer, and hands them out in index order. Which thread builds an item never changes what it is.</summary>
internal sealed class Prefetcher<T> : IDisposable
{
    private readonly Func<int, T> _build;
    private readonly TaskCompletionSource<T>[] _results;
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _stop;
    private readonly Thread[] _workers;
    private int _next = -1;

    /// <summary>Starts the workers. <paramref name="stop"/> is cancelled on <see cref="Dispose"/>; <paramref name="build"/>
    /// should observe it.</summary>
    public Prefetcher(int count, int workers, int window, Func<int, T> build, CancellationTokenSource stop)
    {
        _build = build;
        _stop = stop;
        _results =
        [
            .. Enumerable.Range(0, count)
                .Select(_ => new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously)),
        ];
        // A worker takes a window slot before it claims the next index, and the consumer returns the slot when it
        // takes that item; items are claimed in order, so the item the consumer waits for is always claimable.
        _window = new SemaphoreSlim(window);
        _workers =
        [
            .. Enumerable.Range(0, workers).Select(_ => new Thread(Work) { IsBackground = true, Name = "ClipLoader worker" }),
        ];
        foreach (Thread worker in _workers)
        {
            worker.Start();
        }
    }

    /// <summary>Waits for item <paramref name="index"/> (taken in order) and rethrows the exception that building
    /// it raised, unwrapped.</summary>
    public T Take(int index, CancellationToken cancellationToken)
    {
        T item = _results[index].Task.WaitAsync(cancellationToken).GetAwaiter().GetResult();
        _window.Release();
        return item;
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (Thread worker in _workers)
        {
            worker.Join();
        }
        _window.Dispose();
    }

    private void Work()
    {
        while (true)
        {
            try
            {
                _window.Wait(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            int index = Interlocked.Increment(ref _next);
            if (index >= _results.Length)
            {
                return;
            }
            try
            {
                _results[index].SetResult(_build(index));
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                _results[index].SetCanceled();
                return;
            }
            catch (Exception error)
            {
                _results[index].SetException(error);
            }
        }
    }
}
